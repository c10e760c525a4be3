package dev.loupe.engine.loaders;

import dev.loupe.engine.ClosestNames;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.TensorInfo;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Moves the tensors of a Hugging Face checkpoint into Loupe's names and compute layout, one tensor
 * at a time: each is shape-checked from the file's header before it is read, converted to float32,
 * re-laid out if needed, and the stored copy freed, so loading never holds two copies of the
 * weights. Remembers which tensors were used, so that anything left over is reported rather than
 * silently ignored.
 */
final class HfWeights {
    /** Buffers some checkpoints carry that are not parameters (causal masks, cached rotary tables). */
    private static final List<String> BUFFER_SUFFIXES = List.of(
            ".attn.bias", ".attn.masked_bias", ".attention.bias", ".attention.masked_bias", ".rotary_emb.inv_freq");

    private final SafetensorsFolder src;
    private final String modelType;
    private final Map<String, INDArray> out = new LinkedHashMap<>();
    private final Set<String> used = new HashSet<>();

    HfWeights(SafetensorsFolder src, String modelType) {
        this.src = src;
        this.modelType = modelType;
    }

    /**
     * The prefix the checkpoint's names carry: {@code "model."} for a {@code LlamaForCausalLM}, none
     * for a bare {@code LlamaModel}; {@code probe} is a tensor every checkpoint of the family has.
     */
    String prefix(String probe, String prefix) {
        if (src.contains(prefix + probe)) return prefix;
        if (src.contains(probe)) return "";
        throw missing(prefix + probe);
    }

    boolean has(String name) {
        return src.contains(name);
    }

    /** Reads a tensor after checking that its stored shape is {@code shape}: float32, c-ordered. */
    INDArray read(String name, long... shape) {
        if (!src.contains(name)) throw missing(name);
        TensorInfo info = src.info(name);
        if (!Arrays.equals(info.shape(), shape))
            throw new LoupeException(
                    src.fileOf(name) + ": tensor \"" + name + "\" has shape " + Arrays.toString(info.shape())
                            + ", expected " + Arrays.toString(shape) + " for the model described by config.json");
        used.add(name);
        return src.readFloat(name);
    }

    /** A tensor stored as Loupe uses it (embeddings, norms, biases, GPT-2's Conv1D weights [in, out]). */
    INDArray copy(String name, String loupeName, long... shape) {
        INDArray a = read(name, shape);
        out.put(loupeName, a);
        return a;
    }

    /** An {@code nn.Linear} weight [out, in], stored transposed as Loupe's [in, out] (x @ W). */
    void linear(String name, String loupeName, long outDim, long inDim) {
        out.put(loupeName, transposed(read(name, outDim, inDim)));
    }

    void put(String loupeName, INDArray a) {
        out.put(loupeName, a);
    }

    Map<String, INDArray> tensors() {
        return out;
    }

    /**
     * Reads the untied unembedding from the classifier {@code head} ([vocab, d_model] nn.Linear), then
     * checks that every tensor was used. A tied checkpoint may still carry a copy of the head: ignored.
     */
    void unembedAndCheckAllUsed(dev.loupe.engine.model.ModelConfig cfg, String head) {
        if (!cfg.tiedEmbeddings()) linear(head, "unembed.W_U", cfg.dVocab(), cfg.dModel());
        checkAllUsed(cfg.tiedEmbeddings() ? Set.of(head) : Set.of());
    }

    /** Fails on any tensor that was not used and is neither a known buffer nor in {@code ignored}. */
    void checkAllUsed(Set<String> ignored) {
        for (String name : src.names()) {
            if (used.contains(name) || ignored.contains(name)) continue;
            if (BUFFER_SUFFIXES.stream().anyMatch(name::endsWith)) continue;
            throw new LoupeException(src.fileOf(name) + ": unexpected tensor \"" + name + "\" for model_type "
                    + modelType + " with this config.json (is config.json from the same model?)");
        }
    }

    /** A c-ordered copy of a matrix's transpose; frees the input. */
    static INDArray transposed(INDArray a) {
        INDArray t = a.transpose().dup('c');
        free(a);
        return t;
    }

    static void free(INDArray a) {
        if (a.closeable()) a.close();
    }

    private LoupeException missing(String name) {
        List<String> close = ClosestNames.closest(name, src.names(), 3);
        return new LoupeException(src.fileOf(name) + ": missing tensor \"" + name + "\" (model_type " + modelType
                + "); closest names: " + (close.isEmpty() ? "(none)" : String.join(", ", close)));
    }
}
