package dev.loupe.engine.loaders;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.concurrency.AffinityManager;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Loads a legacy llama2.c checkpoint ({@code .bin}, as written by llama2.c's {@code export.py
 * --version 0} and read by its {@code run.c}) into a {@link HookedTransformer}.
 *
 * <p><b>Format.</b> A {@link Llama2cHeader} (seven int32s), then float32 tensors back to back in
 * {@code run.c}'s order, each layer-stacked tensor as [n_layers, ...]:
 * <pre>
 * token_embedding_table [vocab, dim]          rms_att_weight [layer, dim]
 * wq [layer, n_heads*head_size, dim]          wk, wv [layer, n_kv_heads*head_size, dim]
 * wo [layer, dim, n_heads*head_size]          rms_ffn_weight [layer, dim]
 * w1 [layer, hidden, dim]   w2 [layer, dim, hidden]   w3 [layer, hidden, dim]
 * rms_final_weight [dim]    freq_cis_real, freq_cis_imag [seq_len, head_size/2] (unused)
 * wcls [vocab, dim]         only when vocab_size in the header is negative (unshared classifier)
 * </pre>
 * Projections are PyTorch {@code Linear} weights, [out, in]: {@code run.c}'s
 * {@code matmul(q, x, wq, dim, dim)} computes {@code q = wq x}. Loupe multiplies {@code x W} with
 * W [in, out] (see {@link Weights}), so every projection is transposed once while loading.
 * {@code hb = silu(w1 x) * (w3 x)}, so w1 is {@code W_gate}, w3 is {@code W_in} and w2 is {@code W_out}.
 *
 * <p><b>RoPE layout.</b> {@code run.c} rotates interleaved pairs of each head's dimensions
 * ({@code 2i, 2i+1}); Loupe's forward rotates halves ({@code i, i + d/2}), as GPT-NeoX and Hugging
 * Face do. Loading reorders the output dimensions of each head of {@code wq} and {@code wk} to
 * {@code [0, 2, 4, ..., 1, 3, 5, ...]} — the {@code permute} of Hugging Face's
 * {@code convert_llama_weights_to_hf.py} — so that rotate-half on the permuted vector is the
 * interleaved rotation on the original one. Queries and keys are permuted alike, so their dot
 * products (the attention scores) and everything downstream are unchanged; only
 * {@code hook_q}/{@code hook_k} and the rotated versions list each head's dimensions in the new order.
 *
 * <p><b>Memory.</b> The file is streamed tensor by tensor (one layer's slice at a time) straight
 * into native ND4J memory; it is never read onto the Java heap. Its size is checked against the
 * header before anything is allocated.
 */
public final class Llama2cCheckpoint {
    /** 1 GiB reads: a ByteBuffer is int-indexed, tensors may be larger. */
    private static final int WINDOW = 1 << 30;

    private Llama2cCheckpoint() {}

    /**
     * Loads {@code file} as a float32 model.
     *
     * @throws LoupeException if the file cannot be read or is not a consistent llama2.c checkpoint
     */
    public static HookedTransformer load(Path file) {
        return load(file, true);
    }

    /** The validated header of {@code file}, without reading any weights. */
    public static Llama2cHeader readHeader(Path file) {
        try (FileChannel ch = open(file)) {
            return Llama2cHeader.read(file, ch);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read llama2.c checkpoint: " + e, e);
        }
    }

    /**
     * {@link #load(Path)}, optionally without the RoPE permutation: a model that applies rotate-half
     * to interleaved weights, which is wrong. Tests use it to show that the permutation matters.
     */
    static HookedTransformer load(Path file, boolean permuteRope) {
        try (FileChannel ch = open(file)) {
            Llama2cHeader h = Llama2cHeader.read(file, ch);
            ModelConfig cfg = h.toModelConfig();
            Weights weights = new Weights(new Reader(file, ch, h, permuteRope).readAll());
            weights.validate(cfg, file.toString());
            return new HookedTransformer(cfg, weights);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read llama2.c checkpoint: " + e, e);
        }
    }

    private static FileChannel open(Path file) {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot open llama2.c checkpoint: " + e, e);
        }
    }

    /**
     * Reorders the output dimensions of each head of a projection from llama2.c's interleaved RoPE
     * pairs to rotate-half halves, transposing to Loupe's layout in the same copy.
     *
     * @param w      [heads * dHead, in], a PyTorch Linear weight in interleaved layout
     * @return [in, heads * dHead], each head's columns ordered {@code 0, 2, 4, ..., 1, 3, 5, ...}
     */
    static INDArray interleavedToHalves(INDArray w, int heads, int dHead) {
        long in = w.size(1);
        return w.reshape('c', heads, dHead / 2, 2, in) // [h, i, p, in]: row h*dHead + 2i + p
                .permute(3, 0, 2, 1) // [in, h, p, i]: column h*dHead + p*dHead/2 + i
                .dup('c')
                .reshape('c', in, (long) heads * dHead);
    }

    /** Reads the tensors in file order, keeping a running byte offset. */
    private static final class Reader {
        private final Path file;
        private final FileChannel ch;
        private final Llama2cHeader h;
        private final boolean permuteRope;
        private long offset = Llama2cHeader.BYTES;

        Reader(Path file, FileChannel ch, Llama2cHeader h, boolean permuteRope) {
            this.file = file;
            this.ch = ch;
            this.h = h;
            this.permuteRope = permuteRope;
        }

        Map<String, INDArray> readAll() throws IOException {
            int L = h.nLayers(), D = h.dim(), F = h.hiddenDim(), V = h.vocabSize();
            int q = h.nHeads() * h.headSize(), kv = h.kvDim();
            Map<String, INDArray> m = new LinkedHashMap<>();
            m.put("embed.W_E", next(V, D)); // [V, D]
            perLayer(m, "ln1.w", w -> w, D);
            perLayer(m, "attn.W_Q", w -> rope(w, h.nHeads()), q, D); // -> [D, q]
            perLayer(m, "attn.W_K", w -> rope(w, h.nKvHeads()), kv, D); // -> [D, kv]
            perLayer(m, "attn.W_V", Reader::transposed, kv, D); // -> [D, kv]
            perLayer(m, "attn.W_O", Reader::transposed, D, q); // -> [q, D]
            perLayer(m, "ln2.w", w -> w, D);
            perLayer(m, "mlp.W_gate", Reader::transposed, F, D); // w1 -> [D, F]
            perLayer(m, "mlp.W_out", Reader::transposed, D, F); // w2 -> [F, D]
            perLayer(m, "mlp.W_in", Reader::transposed, F, D); // w3 -> [D, F]
            m.put("ln_final.w", next(D));
            offset += 4L * h.seqLen() * h.headSize(); // freq_cis_real, freq_cis_imag
            if (!h.sharedClassifier()) m.put("unembed.W_U", transposed(next(V, D))); // wcls [V, D] -> [D, V]
            if (offset != h.fileBytes())
                throw new IllegalStateException("read " + offset + " of " + h.fileBytes() + " bytes"); // a bug here
            return m;
        }

        /** Reads {@code [n_layers, shape]} one layer at a time, storing each as blocks.{l}.{name}. */
        private void perLayer(
                Map<String, INDArray> m, String name, java.util.function.UnaryOperator<INDArray> toLoupe, long... shape)
                throws IOException {
            for (int l = 0; l < h.nLayers(); l++) m.put("blocks." + l + "." + name, toLoupe.apply(next(shape)));
        }

        private INDArray rope(INDArray w, int heads) {
            if (!permuteRope) return transposed(w);
            INDArray out = interleavedToHalves(w, heads, h.headSize());
            free(w);
            return out;
        }

        /** [out, in] -> [in, out], freeing the file-order copy. */
        private static INDArray transposed(INDArray w) {
            INDArray t = w.transpose().dup('c');
            free(w);
            return t;
        }

        /** Frees a file-order copy now rather than at the next garbage collection. */
        private static void free(INDArray w) {
            if (w.closeable()) w.close();
        }

        /** The next float32 tensor of the file, c-ordered, read straight into native memory. */
        private INDArray next(long... shape) throws IOException {
            INDArray out = Nd4j.createUninitializedDetached(DataType.FLOAT, 'c', shape);
            long total = out.length() * 4;
            long base = out.data().addressPointer().address();
            try {
                for (long done = 0; done < total; done += WINDOW) {
                    int n = (int) Math.min(WINDOW, total - done);
                    ByteBuffer dst = new BytePointer(new PagedPointer(base + done))
                            .capacity(n)
                            .asByteBuffer()
                            .order(ByteOrder.LITTLE_ENDIAN);
                    while (dst.hasRemaining()) {
                        long at = offset + done + dst.position();
                        if (ch.read(dst, at) < 0)
                            throw new LoupeException(
                                    file + ": file ended at byte " + at + " (modified while reading?)");
                    }
                }
            } finally {
                Reference.reachabilityFence(out); // the windows are raw addresses into out's memory
            }
            Nd4j.getAffinityManager().tagLocation(out, AffinityManager.Location.HOST);
            offset += total;
            return out;
        }
    }
}
