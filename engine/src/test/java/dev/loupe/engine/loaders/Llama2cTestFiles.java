package dev.loupe.engine.loaders;

import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes small Loupe models as llama2.c checkpoints (the inverse of {@link Llama2cCheckpoint}:
 * transpose back to [out, in], q/k back to interleaved RoPE pairs), for tests without the shared
 * reference data. Heap-based: for tiny models only.
 */
final class Llama2cTestFiles {
    private Llama2cTestFiles() {}

    /** A llama2.c-shaped config: RMSNorm 1e-5, full rotary base 10000, SwiGLU, no biases. */
    static ModelConfig config(
            int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, boolean shared) {
        return new Llama2cHeader(dim, hidden, layers, heads, kvHeads, vocab, seqLen, shared).toModelConfig();
    }

    static Path write(Path file, HookedTransformer model) throws IOException {
        Files.write(file, bytes(model));
        return file;
    }

    static byte[] bytes(HookedTransformer model) {
        ModelConfig c = model.config();
        Weights w = model.weights();
        Llama2cHeader h = new Llama2cHeader(
                c.dModel(), c.dMlp(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.dVocab(), c.nCtx(), c.tiedEmbeddings());
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(h.fileBytes())).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : new int[] {
            c.dModel(),
            c.dMlp(),
            c.nLayers(),
            c.nHeads(),
            c.nKvHeads(),
            c.tiedEmbeddings() ? c.dVocab() : -c.dVocab(),
            c.nCtx()
        }) b.putInt(v);
        put(b, w.get("embed.W_E"));
        perLayer(b, w, c, "ln1.w", false, 0);
        perLayer(b, w, c, "attn.W_Q", true, c.nHeads());
        perLayer(b, w, c, "attn.W_K", true, c.nKvHeads());
        perLayer(b, w, c, "attn.W_V", true, 0);
        perLayer(b, w, c, "attn.W_O", true, 0);
        perLayer(b, w, c, "ln2.w", false, 0);
        perLayer(b, w, c, "mlp.W_gate", true, 0);
        perLayer(b, w, c, "mlp.W_out", true, 0);
        perLayer(b, w, c, "mlp.W_in", true, 0);
        put(b, w.get("ln_final.w"));
        // freq_cis_real / imag: run.c ignores them; fill with a marker the loader must skip.
        for (int i = 0; i < c.nCtx() * c.dHead(); i++) b.putFloat(Float.NaN);
        if (!c.tiedEmbeddings()) put(b, w.get("unembed.W_U").transpose());
        if (b.hasRemaining()) throw new IllegalStateException(b.remaining() + " bytes left");
        return b.array();
    }

    /** Each layer's tensor; Linear weights back to [out, in], q/k (ropeHeads > 0) back to interleaved pairs. */
    private static void perLayer(ByteBuffer b, Weights w, ModelConfig c, String name, boolean linear, int ropeHeads) {
        for (int l = 0; l < c.nLayers(); l++) {
            INDArray a = w.get("blocks." + l + "." + name);
            if (ropeHeads > 0) a = halvesToInterleaved(a, ropeHeads, c.dHead());
            else if (linear) a = a.transpose();
            put(b, a);
        }
    }

    /** [in, heads*dHead] rotate-half layout -> [heads*dHead, in] interleaved (llama2.c's wq/wk). */
    static INDArray halvesToInterleaved(INDArray w, int heads, int dHead) {
        long in = w.size(0);
        return w.reshape('c', in, heads, 2, dHead / 2) // [in, h, p, i]
                .permute(1, 3, 2, 0) // [h, i, p, in]
                .dup('c')
                .reshape('c', (long) heads * dHead, in);
    }

    private static void put(ByteBuffer b, INDArray a) {
        for (float f : a.castTo(DataType.FLOAT).dup('c').data().asFloat()) b.putFloat(f);
    }
}
