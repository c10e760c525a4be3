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
 *
 * <p>Between two sequences a chunker's whole state is where it is in the corpus ({@link #position}):
 * a chunker {@link #resume resumed} there produces the same sequences as the one that got there by
 * reading everything before. A distributed harvest notes the position where each shard's sequences
 * start ({@link #count}) and hands it to the task that computes the shard.
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

    /**
     * Where a chunker is between two sequences: the document it is in and how many of its tokens
     * are used ({@code document} null: at the start of the corpus).
     */
    public record Position(Corpus.DocumentPosition document, int offset) implements java.io.Serializable {
        public static final Position START = new Position(null, 0);
    }

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

    /** A chunker over {@code corpus} that continues from {@code at}, a position of a chunker over the same corpus. */
    public static Chunker resume(
            Corpus corpus, Position at, int context, Integer beginBatch, Integer beginSequence, Integer separator) {
        if (at.document() == null)
            return new Chunker(corpus.documents(), context, beginBatch, beginSequence, separator);
        Corpus.Documents docs = corpus.documentsFrom(at.document());
        Chunker c = new Chunker(docs, context, beginBatch, beginSequence, separator);
        if (!docs.hasNext())
            throw new dev.loupe.engine.LoupeException(
                    "corpus: no document at " + at.document() + " (changed since the harvest was planned?)");
        c.doc = docs.next();
        c.offset = at.offset();
        c.startOfDocument = false; // a sequence ended inside it: its start was handled
        return c;
    }

    /**
     * Where this chunker is now; only between sequences (not after {@link #hasNext} read the next
     * one ahead), over the documents of a {@link Corpus}.
     */
    public Position position() {
        if (ready != null || batch != null) throw new IllegalStateException("position is known between sequences only");
        if (doc == null) return Position.START;
        if (!(documents instanceof Corpus.Documents d))
            throw new IllegalStateException("positions need the documents of a Corpus");
        return new Position(d.position(), offset);
    }

    /**
     * Reads up to {@code max} sequences and returns how many there were, adding to {@code starts} the
     * position before sequence 0, {@code every}, 2·{@code every}, ... (each one that exists).
     */
    public long count(long max, long every, java.util.List<Position> starts) {
        long k = 0;
        while (k < max) {
            Position p = position();
            if (!hasNext()) break;
            if (k % every == 0) starts.add(p);
            next();
            k++;
        }
        return k;
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
