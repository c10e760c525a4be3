package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.PriorityQueue;

/**
 * The tokenizer of Karpathy's llama2.c, from its {@code tokenizer.bin}: little-endian int32
 * {@code max_token_length}, then per token a float32 score, an int32 byte length and the bytes
 * (SentencePiece's {@code ▁} already turned into a space; ids 3..258 are the byte tokens
 * {@code <0x00>}..{@code <0xFF>}).
 *
 * <p>Encoding is {@code run.c}'s {@code encode}: a dummy-prefix {@code " "} token for non-empty
 * text, each UTF-8 character looked up whole or else spelled as byte tokens (byte + 3), then,
 * repeatedly, the adjacent pair whose concatenation is the vocabulary entry with the highest score
 * is merged (the leftmost such pair on ties). The loop is done with a priority queue instead of
 * run.c's quadratic rescan; the pair chosen at each step is the same. BOS = 1, EOS = 2.
 *
 * <p>Two deliberate differences from the C code, neither of which changes any id it produces: a NUL
 * character in the text is encoded (as the byte token {@code <0x00>}) instead of ending the
 * string, and with {@code allowSpecial} the texts {@code <unk>}, {@code <s>}, {@code </s>} become
 * their ids, each piece between them encoded as its own text (as Hugging Face's Llama tokenizer does).
 */
public final class Llama2cTokenizer implements Tokenizer {
    public static final int UNK = 0, BOS = 1, EOS = 2, FIRST_BYTE_TOKEN = 3;
    private static final float NO_MERGE = -1e10f;
    private static final String[] SPECIAL_NAMES = {"<unk>", "<s>", "</s>"};

    private final String source;
    /** Each piece as a Latin-1 string: one char per byte, so byte strings hash and concatenate as strings. */
    private final String[] pieces;

    private final float[] scores;
    private final Map<String, Integer> lookup;
    private final int maxTokenLength;
    private final AddedVocabulary specials;

    private Llama2cTokenizer(String source, String[] pieces, float[] scores, int maxTokenLength) {
        this.source = source;
        this.pieces = pieces;
        this.scores = scores;
        this.maxTokenLength = maxTokenLength;
        lookup = new HashMap<>(pieces.length * 2);
        for (int i = 0; i < pieces.length; i++) {
            // C strings end at the first NUL; the first of equal strings wins
            String key = pieces[i].indexOf('\0') >= 0 ? pieces[i].substring(0, pieces[i].indexOf('\0')) : pieces[i];
            lookup.putIfAbsent(key, i);
        }
        List<AddedToken> special = new ArrayList<>();
        for (int i = 0; i < SPECIAL_NAMES.length; i++) special.add(AddedToken.special(i, SPECIAL_NAMES[i]));
        specials = new AddedVocabulary(special, s -> s);
    }

    /** Reads every token up to the end of the file. */
    public static Llama2cTokenizer load(Path file) {
        return read(file, -1);
    }

    /** Reads exactly {@code vocabSize} tokens, as run.c does with the model's vocabulary size. */
    public static Llama2cTokenizer load(Path file, int vocabSize) {
        if (vocabSize <= 0) throw new LoupeException(file + ": vocabulary size must be positive, got " + vocabSize);
        return read(file, vocabSize);
    }

    private static Llama2cTokenizer read(Path file, int vocabSize) {
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new LoupeException("cannot read " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (data.length < 4)
            throw new LoupeException(file + ": too short for a llama2.c tokenizer.bin (" + data.length + " bytes)");
        int maxLen = buf.getInt();
        if (maxLen <= 0 || maxLen > 1 << 16)
            throw new LoupeException(file + ": max_token_length is " + maxLen
                    + ", expected 1..65536 (is this a llama2.c tokenizer.bin?)");
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (vocabSize < 0 ? buf.hasRemaining() : pieces.size() < vocabSize) {
            int at = buf.position();
            if (buf.remaining() < 8)
                throw new LoupeException(file + ": token " + pieces.size() + " is cut off at byte offset " + at
                        + " (needs 8 bytes of score and length, " + buf.remaining() + " left)");
            float score = buf.getFloat();
            int len = buf.getInt();
            if (len < 0 || len > maxLen)
                throw new LoupeException(file + ": token " + pieces.size() + " at byte offset " + at + " has length "
                        + len + ", expected 0.." + maxLen + " (max_token_length)");
            if (buf.remaining() < len)
                throw new LoupeException(file + ": token " + pieces.size() + " at byte offset " + at + " needs " + len
                        + " bytes, " + buf.remaining() + " left");
            byte[] piece = new byte[len];
            buf.get(piece);
            pieces.add(new String(piece, StandardCharsets.ISO_8859_1));
            scores.add(score);
        }
        if (pieces.size() < FIRST_BYTE_TOKEN + 256)
            throw new LoupeException(
                    file + ": has " + pieces.size() + " tokens; a llama2.c tokenizer needs at least 259 "
                            + "(<unk>, <s>, </s> and the 256 byte tokens)");
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) s[i] = scores.get(i);
        return new Llama2cTokenizer(file.toString(), pieces.toArray(new String[0]), s, maxLen);
    }

    public int maxTokenLength() {
        return maxTokenLength;
    }

    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    @Override
    public int[] encode(String text, boolean allowSpecial) {
        return encode(text, allowSpecial, false);
    }

    @Override
    public int[] toTokens(String text, boolean prependBos) {
        return encode(text, true, prependBos);
    }

    private int[] encode(String text, boolean allowSpecial, boolean bos) {
        if (text == null) throw new LoupeException("encode: text is null");
        Utf8.requireUnicode(text);
        List<AddedVocabulary.Segment> segments =
                allowSpecial ? specials.split(text, false, true) : List.of(new AddedVocabulary.Segment(text, -1, 0));
        if (segments.size() == 1 && !segments.get(0).isToken()) return runC(text, bos);
        IntList out = new IntList(text.length() + 2);
        if (bos) out.add(BOS);
        for (AddedVocabulary.Segment s : segments) {
            if (s.isToken()) out.add(s.id());
            else if (!s.text().isEmpty()) out.addAll(runC(s.text(), false));
        }
        return out.toArray();
    }

    /** run.c's {@code encode(t, text, bos, eos=0, ...)}. */
    private int[] runC(String text, boolean bos) {
        String bytes = new String(Utf8.encode(text), StandardCharsets.ISO_8859_1);
        IntList tokens = new IntList(bytes.length() + 2);
        if (bos) tokens.add(BOS);
        if (!bytes.isEmpty()) {
            Integer dummy = lookup.get(" ");
            if (dummy == null)
                throw new LoupeException(source + ": has no \" \" token for SentencePiece's dummy prefix");
            tokens.add(dummy);
        }
        // one UTF-8 character at a time (at most 4 bytes, as run.c), else its bytes
        for (int i = 0; i < bytes.length(); ) {
            int end = i + 1;
            while (end < bytes.length() && (bytes.charAt(end) & 0xC0) == 0x80 && end - i < 4) end++;
            Integer id = lookup.get(bytes.substring(i, end));
            if (id != null) tokens.add(id);
            else for (int k = i; k < end; k++) tokens.add(bytes.charAt(k) + FIRST_BYTE_TOKEN);
            i = end;
        }
        return merge(tokens.toArray());
    }

    private record Pair(float score, int left, int right, int mergedId, int leftGen, int rightGen) {}

    /** Highest-scoring adjacent pair first, leftmost among equals, until no pair is in the vocabulary. */
    private int[] merge(int[] ids) {
        int n = ids.length;
        int[] next = new int[n], prev = new int[n], gen = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
        }
        PriorityQueue<Pair> queue = new PriorityQueue<>(
                Math.max(1, n),
                (a, b) -> a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < n; i++) offer(queue, ids, gen, i, i + 1);
        while (!queue.isEmpty()) {
            Pair p = queue.poll();
            if (!alive[p.left]
                    || !alive[p.right]
                    || next[p.left] != p.right
                    || gen[p.left] != p.leftGen
                    || gen[p.right] != p.rightGen) continue;
            ids[p.left] = p.mergedId;
            gen[p.left]++;
            alive[p.right] = false;
            next[p.left] = next[p.right];
            if (next[p.left] >= 0) prev[next[p.left]] = p.left;
            if (prev[p.left] >= 0) offer(queue, ids, gen, prev[p.left], p.left);
            if (next[p.left] >= 0) offer(queue, ids, gen, p.left, next[p.left]);
        }
        IntList out = new IntList(n);
        for (int i = 0; i < n; i++) if (alive[i]) out.add(ids[i]);
        return out.toArray();
    }

    private void offer(PriorityQueue<Pair> queue, int[] ids, int[] gen, int left, int right) {
        Integer id = lookup.get(cString(ids[left]) + cString(ids[right]));
        if (id == null) return;
        float score = scores[id];
        if (!(score > NO_MERGE)) return; // run.c starts from best_score = -1e10 and needs strictly more
        queue.add(new Pair(score, left, right, id, gen[left], gen[right]));
    }

    private String cString(int id) {
        String p = pieces[id];
        int nul = p.indexOf('\0');
        return nul >= 0 ? p.substring(0, nul) : p;
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length)
            throw new LoupeException("token id " + id + " is not in the vocabulary of " + source + " (ids 0.."
                    + (pieces.length - 1) + ")");
    }

    private static final Decoder DECODER =
            new Decoder.Sequence(List.of(new Decoder.ByteFallback(), new Decoder.Fuse(), new Decoder.Strip(' ', 1, 0)));

    /**
     * As Hugging Face's Llama tokenizer decodes: byte tokens assembled into UTF-8, the dummy-prefix
     * space at the very start removed, {@code <unk>}/{@code <s>}/{@code </s>} written as such.
     */
    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        if (ids == null) throw new LoupeException("decode: ids is null");
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            checkId(id);
            if (id < SPECIAL_NAMES.length) {
                if (!skipSpecial) tokens.add(SPECIAL_NAMES[id]);
                continue;
            }
            tokens.add(pieceText(id));
        }
        return String.join("", DECODER.decodeChain(tokens));
    }

    /** The piece as text (spaces as spaces); byte tokens stay {@code <0xNN>}. */
    private String pieceText(int id) {
        return Utf8.decodeLossy(pieces[id].getBytes(StandardCharsets.ISO_8859_1));
    }

    @Override
    public String tokenString(int id) {
        checkId(id);
        return id < SPECIAL_NAMES.length ? SPECIAL_NAMES[id] : pieceText(id).replace(' ', '\u2581');
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public OptionalInt bosId() {
        return OptionalInt.of(BOS);
    }

    @Override
    public OptionalInt eosId() {
        return OptionalInt.of(EOS);
    }

    @Override
    public OptionalInt padId() {
        return OptionalInt.empty();
    }

    @Override
    public String toString() {
        return "llama2.c tokenizer from " + source + " (" + pieces.length + " tokens)";
    }
}
