package dev.loupe.store.corpus;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Concatenates documents and cuts them into sequences of exactly {@code context} tokens, as
 * SAELens's {@code concat_and_batch_sequences} does:
 * <ul>
 *   <li>{@code beginBatch} (SAELens: the BOS when {@code prepend_bos}) starts every sequence, unless
 *       the sequence's first token already is it;</li>
 *   <li>{@code beginSequence} (SAELens default: none) starts every document, unless it already does;</li>
 *   <li>{@code separator} (SAELens default: the BOS) goes between two documents in one sequence,
 *       unless the next document starts with it;</li>
 *   <li>a document that does not fit continues in the next sequence (which gets its {@code beginBatch});
 *       the incomplete last sequence is dropped.</li>
 * </ul>
 * Any of the three may be null (none). The output is a pure function of the documents, which is
 * what makes a resumed harvest skip exactly the sequences already stored.
 */
public final class Chunker implements Iterator<int[]> {
    private final Iterator<int[]> documents;
    private final int context;
    private final Integer beginBatch, beginSequence, separator;
    private int[] batch;
    private int batchLength;
    private int[] doc;
    private int offset;
    private boolean startOfDocument;
    private int[] ready;

    public Chunker(
            Iterator<int[]> documents, int context, Integer beginBatch, Integer beginSequence, Integer separator) {
        if (context < 1) throw new IllegalArgumentException("context must be >= 1");
        this.documents = documents;
        this.context = context;
        this.beginBatch = beginBatch;
        this.beginSequence = beginSequence;
        this.separator = separator;
    }

    @Override
    public boolean hasNext() {
        if (ready == null) ready = advance();
        return ready != null;
    }

    @Override
    public int[] next() {
        if (!hasNext()) throw new NoSuchElementException();
        int[] out = ready;
        ready = null;
        return out;
    }

    /** Skips up to {@code n} sequences; returns how many were skipped. */
    public long skip(long n) {
        long k = 0;
        while (k < n && hasNext()) {
            next();
            k++;
        }
        return k;
    }

    private int[] advance() {
        while (true) {
            if (doc == null || offset >= doc.length) {
                if (!documents.hasNext()) return null;
                doc = documents.next();
                offset = 0;
                startOfDocument = true;
                if (doc.length == 0) continue;
            }
            addTokens();
            startOfDocument = false;
            if (batch != null && batchLength == context) {
                int[] out = batch;
                batch = null;
                return out;
            }
        }
    }

    /** SAELens's {@code _add_tokens_to_batch}. */
    private void addTokens() {
        int[] prefix = new int[3];
        int np = 0;
        int first = doc[offset];
        if (startOfDocument && beginSequence != null && first != beginSequence) {
            np = push(prefix, np, beginSequence);
            first = beginSequence;
        }
        if (batch == null) {
            if (beginBatch != null && first != beginBatch) {
                np = push(prefix, np, beginBatch);
            }
            int needed = Math.max(context - np, 0);
            batch = new int[context];
            batchLength = 0;
            append(prefix, 0, Math.min(np, context));
            append(doc, offset, needed);
            offset += needed;
            return;
        }
        if (separator != null && first != separator) {
            np = push(prefix, np, separator);
        }
        int needed = Math.max(context - batchLength - np, 0);
        int prefixNeeded = Math.max(context - batchLength, 0);
        append(prefix, 0, Math.min(np, prefixNeeded));
        append(doc, offset, needed);
        offset += needed;
    }

    /** Inserts at the front, as SAELens's {@code prefix_toks.insert(0, ...)}. */
    private static int push(int[] prefix, int n, int token) {
        System.arraycopy(prefix, 0, prefix, 1, n);
        prefix[0] = token;
        return n + 1;
    }

    /** Appends up to {@code n} tokens of {@code src} from {@code from} (clipped at its end, as a Python slice). */
    private void append(int[] src, int from, int n) {
        int k = Math.max(0, Math.min(n, src.length - from));
        System.arraycopy(src, from, batch, batchLength, k);
        batchLength += k;
    }

    @Override
    public String toString() {
        return "Chunker(context " + context + ", beginBatch " + beginBatch + ", beginSequence " + beginSequence
                + ", separator " + separator + ")" + (batch == null ? "" : Arrays.toString(batch));
    }
}
