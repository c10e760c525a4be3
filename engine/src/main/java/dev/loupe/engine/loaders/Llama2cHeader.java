package dev.loupe.engine.loaders;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The header of a legacy llama2.c checkpoint: {@code run.c}'s {@code Config}, seven little-endian
 * int32s. A negative {@code vocab_size} is llama2.c's flag for an unshared classifier (a separate
 * {@code wcls} tensor at the end of the file); {@link #vocabSize} here is always the positive size
 * and {@link #sharedClassifier} carries the flag.
 *
 * <p>{@link #read} accepts a header only when every dimension is positive and consistent and the
 * file holds exactly the bytes it implies, so that no tensor is allocated for a file that cannot
 * fill it (a corrupt header must not make the loader ask for terabytes).
 */
public record Llama2cHeader(
        int dim,
        int hiddenDim,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int vocabSize,
        int seqLen,
        boolean sharedClassifier) {

    /** Bytes of the header: seven int32s. */
    public static final int BYTES = 7 * 4;

    /** {@code "ak42"} read as a little-endian int: the magic of llama2.c's newer, versioned exports. */
    private static final int VERSIONED_MAGIC = 0x616b3432;

    /** @throws LoupeException for dimensions no checkpoint can have ({@link #read} names the file first) */
    public Llama2cHeader {
        if (dim <= 0
                || hiddenDim <= 0
                || nLayers <= 0
                || nHeads <= 0
                || nKvHeads <= 0
                || vocabSize <= 0
                || seqLen <= 0
                || dim % nHeads != 0
                || (dim / nHeads) % 2 != 0
                || nHeads % nKvHeads != 0)
            throw new LoupeException("llama2.c header: inconsistent dimensions (dim " + dim + ", hidden_dim "
                    + hiddenDim
                    + ", n_layers " + nLayers + ", n_heads " + nHeads + ", n_kv_heads " + nKvHeads + ", vocab_size "
                    + vocabSize + ", seq_len " + seqLen + ")");
    }

    /** Width of one head; RoPE rotates its dimensions in pairs, so it is even. */
    public int headSize() {
        return dim / nHeads;
    }

    /** Width of the key/value projections: {@code n_kv_heads * head_size}. */
    public int kvDim() {
        return nKvHeads * headSize();
    }

    /**
     * Float32 elements the file holds after the header, in {@code run.c}'s order, including the two
     * unused RoPE tables and the classifier when it is not shared.
     *
     * @throws ArithmeticException if the count overflows a long
     */
    long floatCount(boolean shared) {
        long d = dim, h = hiddenDim, L = nLayers, v = vocabSize, kv = kvDim(), q = (long) nHeads * headSize();
        long perLayer = Math.addExact(
                Math.addExact(2 * d, Math.multiplyExact(d, 2 * q + 2 * kv)), Math.multiplyExact(3 * d, h));
        long total = Math.multiplyExact(v, d);
        total = Math.addExact(total, Math.multiplyExact(L, perLayer));
        total = Math.addExact(total, d);
        total = Math.addExact(total, Math.multiplyExact((long) seqLen, headSize())); // freq_cis_real + imag
        if (!shared) total = Math.addExact(total, Math.multiplyExact(v, d));
        return total;
    }

    /** The exact size in bytes of a file with this header. */
    public long fileBytes() {
        return fileBytes(sharedClassifier);
    }

    private long fileBytes(boolean shared) {
        return Math.addExact(BYTES, Math.multiplyExact(floatCount(shared), 4L));
    }

    /**
     * The architecture as Loupe describes it: RMSNorm (eps 1e-5), rotary over the whole head with
     * base 10000, SwiGLU, no biases, grouped-query attention when {@code n_kv_heads < n_heads}, and
     * tied embeddings when the classifier is shared.
     */
    public ModelConfig toModelConfig() {
        return ModelConfig.builder()
                .dModel(dim)
                .nLayers(nLayers)
                .nHeads(nHeads)
                .nKvHeads(nKvHeads)
                .dHead(headSize())
                .dMlp(hiddenDim)
                .dVocab(vocabSize)
                .nCtx(seqLen)
                .normalization(Normalization.RMS_NORM)
                .normEps(1e-5)
                .positional(Positional.ROTARY)
                .rotaryDim(headSize())
                .rotaryBase(10000)
                .activation(Activation.SILU_GATED)
                .biases(Biases.none())
                .tiedEmbeddings(sharedClassifier)
                .dtype("float32")
                .build();
    }

    /**
     * Reads and validates the header of {@code file}, open as {@code ch}.
     *
     * @throws LoupeException naming the file and the field or size that is wrong
     */
    static Llama2cHeader read(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < BYTES)
            throw new LoupeException(file + ": " + size + " bytes is too short for a llama2.c checkpoint, whose header"
                    + " alone is " + BYTES + " bytes (7 int32s: dim, hidden_dim, n_layers, n_heads, n_kv_heads,"
                    + " vocab_size, seq_len)");
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining())
            if (ch.read(b, b.position()) < 0)
                throw new LoupeException(file + ": file ended inside the header (is it being modified?)");
        b.flip();
        int[] v = new int[7];
        for (int i = 0; i < 7; i++) v[i] = b.getInt();
        if (v[0] == VERSIONED_MAGIC)
            throw new LoupeException(file + ": starts with the magic \"ak42\" of llama2.c's versioned export format"
                    + " (version " + v[1] + "); only the legacy format is supported: export with"
                    + " `python export.py --version 0`");
        String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
        for (int i = 0; i < 7; i++) {
            boolean ok = i == 5 ? v[i] != 0 && v[i] != Integer.MIN_VALUE : v[i] > 0;
            if (!ok)
                throw new LoupeException(file + ": header field " + names[i] + " is " + v[i] + ", expected "
                        + (i == 5 ? "a non-zero vocabulary size (negative = unshared classifier)" : "a positive number")
                        + " (header: " + describe(v) + "; is this a llama2.c .bin checkpoint?)");
        }
        int dim = v[0], heads = v[3], kvHeads = v[4];
        if (dim % heads != 0)
            throw new LoupeException(file + ": dim " + dim + " is not a multiple of n_heads " + heads + " (header: "
                    + describe(v) + ")");
        if ((dim / heads) % 2 != 0)
            throw new LoupeException(file + ": head size " + dim / heads + " (dim / n_heads) is odd; rotary embeddings"
                    + " rotate pairs of dimensions (header: " + describe(v) + ")");
        if (heads % kvHeads != 0)
            throw new LoupeException(file + ": n_heads " + heads + " is not a multiple of n_kv_heads " + kvHeads
                    + " (header: " + describe(v) + ")");
        Llama2cHeader h = new Llama2cHeader(dim, v[1], v[2], heads, kvHeads, Math.abs(v[5]), v[6], v[5] > 0);
        long expected;
        try {
            expected = h.fileBytes();
        } catch (ArithmeticException e) {
            throw new LoupeException(
                    file + ": the header (" + describe(v) + ") describes more than 2^63 bytes of" + " weights");
        }
        if (size != expected) {
            String hint = size < expected ? " (truncated?)" : " (extra bytes at the end?)";
            try {
                if (size == h.fileBytes(!h.sharedClassifier))
                    hint = " — that is the size " + (h.sharedClassifier ? "with" : "without") + " a separate classifier"
                            + " (wcls): is the sign of vocab_size wrong? (positive = shared with the token embedding)";
            } catch (ArithmeticException ignored) {
                // the other variant overflows: keep the plain hint
            }
            throw new LoupeException(file + ": the header (" + describe(v) + ", "
                    + (h.sharedClassifier ? "shared" : "unshared") + " classifier) implies a file of " + expected
                    + " bytes, but it has " + size + hint);
        }
        return h;
    }

    private static String describe(int[] v) {
        return "dim " + v[0] + ", hidden_dim " + v[1] + ", n_layers " + v[2] + ", n_heads " + v[3] + ", n_kv_heads "
                + v[4] + ", vocab_size " + v[5] + ", seq_len " + v[6];
    }
}
