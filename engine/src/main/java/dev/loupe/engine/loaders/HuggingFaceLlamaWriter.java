package dev.loupe.engine.loaders;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.Weights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes a Llama-architecture model as a Hugging Face {@code llama} folder that
 * {@code LlamaForCausalLM.from_pretrained} loads: {@code config.json} and {@code model.safetensors}
 * (float32, Hugging Face tensor names, PyTorch Linear [out, in] weights).
 *
 * <p>Loupe's forward already uses Hugging Face's rotate-half RoPE, so its query and key weights are
 * in Hugging Face's layout and are written as they are (transposed); a model loaded by
 * {@link Llama2cCheckpoint} was permuted from llama2.c's interleaved layout while loading, so this
 * is also a llama2.c-to-Hugging Face converter.
 *
 * <p>Accepted: RMSNorm, rotary over the whole head, SwiGLU, sequential attention and MLP, tied or
 * untied embeddings, grouped-query attention, and either no biases or Llama's
 * {@code attention_bias} (biases on q, k, v and o together). Anything else is a
 * {@link LoupeException} saying what Llama cannot express. A float64 model is written as float32.
 */
public final class HuggingFaceLlamaWriter {
    public static final String CONFIG = "config.json", WEIGHTS = "model.safetensors";
    private static final ObjectMapper JSON = Json.mapper();

    private HuggingFaceLlamaWriter() {}

    /** Writes {@code model} into {@code dir} (created if needed), each file atomically, in float32. */
    public static void write(HookedTransformer model, Path dir) {
        write(model, dir, org.nd4j.linalg.api.buffer.DataType.FLOAT);
    }

    /** As {@link #write(HookedTransformer, Path)}, storing the weights as {@code storage} (e.g. BFLOAT16). */
    public static void write(HookedTransformer model, Path dir, org.nd4j.linalg.api.buffer.DataType storage) {
        ModelConfig c = model.config();
        requireLlama(c);
        Map<String, INDArray> tensors = new java.util.LinkedHashMap<>();
        tensors(model).forEach((n, t) -> tensors.put(n, t.dataType() == storage ? t : t.castTo(storage)));
        byte[] config;
        try {
            config = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config(c));
        } catch (IOException e) {
            throw new LoupeException("cannot encode " + CONFIG + ": " + e.getMessage(), e);
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LoupeException(dir + ": cannot create the output folder: " + e, e);
        }
        SafetensorsWriter.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
        AtomicFileWriter.write(dir.resolve(CONFIG), ch -> ch.write(ByteBuffer.wrap(config)));
    }

    /** The {@code config.json} of a model with this config. */
    static ObjectNode config(ModelConfig c) {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("architectures").add("LlamaForCausalLM");
        n.put("model_type", "llama");
        n.put("hidden_size", c.dModel());
        n.put("intermediate_size", c.dMlp());
        n.put("num_hidden_layers", c.nLayers());
        n.put("num_attention_heads", c.nHeads());
        n.put("num_key_value_heads", c.nKvHeads());
        n.put("head_dim", c.dHead());
        n.put("vocab_size", c.dVocab());
        n.put("max_position_embeddings", c.nCtx());
        n.put("rms_norm_eps", c.normEps());
        n.put("rope_theta", c.rotaryBase());
        n.put("hidden_act", "silu");
        n.put("attention_bias", c.biases().qkv());
        n.put("mlp_bias", false);
        n.put("tie_word_embeddings", c.tiedEmbeddings());
        n.put("torch_dtype", "float32");
        return n;
    }

    /**
     * Every tensor under its Hugging Face name, [out, in] (transposed views of Loupe's layout). Each
     * bias is emitted when the config has it, so this also gives Qwen2's layout (q, k, v biases only).
     */
    static Map<String, INDArray> tensors(HookedTransformer model) {
        ModelConfig c = model.config();
        Weights w = model.weights();
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", f32(w.get("embed.W_E")));
        for (int l = 0; l < c.nLayers(); l++) {
            String b = "blocks." + l + ".", hf = "model.layers." + l + ".";
            t.put(hf + "input_layernorm.weight", f32(w.get(b + "ln1.w")));
            t.put(hf + "self_attn.q_proj.weight", f32(w.get(b + "attn.W_Q").transpose()));
            t.put(hf + "self_attn.k_proj.weight", f32(w.get(b + "attn.W_K").transpose()));
            t.put(hf + "self_attn.v_proj.weight", f32(w.get(b + "attn.W_V").transpose()));
            t.put(hf + "self_attn.o_proj.weight", f32(w.get(b + "attn.W_O").transpose()));
            if (c.biases().qkv()) {
                t.put(hf + "self_attn.q_proj.bias", f32(w.get(b + "attn.b_Q")));
                t.put(hf + "self_attn.k_proj.bias", f32(w.get(b + "attn.b_K")));
                t.put(hf + "self_attn.v_proj.bias", f32(w.get(b + "attn.b_V")));
            }
            if (c.biases().attnOut()) t.put(hf + "self_attn.o_proj.bias", f32(w.get(b + "attn.b_O")));
            t.put(hf + "post_attention_layernorm.weight", f32(w.get(b + "ln2.w")));
            t.put(hf + "mlp.gate_proj.weight", f32(w.get(b + "mlp.W_gate").transpose()));
            t.put(hf + "mlp.up_proj.weight", f32(w.get(b + "mlp.W_in").transpose()));
            t.put(hf + "mlp.down_proj.weight", f32(w.get(b + "mlp.W_out").transpose()));
        }
        t.put("model.norm.weight", f32(w.get("ln_final.w")));
        if (!c.tiedEmbeddings())
            t.put("lm_head.weight", f32(w.get("unembed.W_U").transpose()));
        return t;
    }

    /** A float64 model's tensors are cast one at a time; float32 ones are written as they are. */
    private static INDArray f32(INDArray a) {
        return a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT);
    }

    /** @throws LoupeException listing every property a Hugging Face Llama cannot express */
    static void requireLlama(ModelConfig c) {
        List<String> wrong = new ArrayList<>();
        if (c.normalization() != Normalization.RMS_NORM)
            wrong.add("normalization is " + c.normalization() + ", not RMS_NORM");
        if (c.positional() != Positional.ROTARY) wrong.add("positional is " + c.positional() + ", not ROTARY");
        else if (c.rotaryDim() != c.dHead())
            wrong.add("rotary_dim " + c.rotaryDim() + " is not the whole head (" + c.dHead() + ")");
        if (c.activation() != Activation.SILU_GATED) wrong.add("activation is " + c.activation() + ", not SILU_GATED");
        if (c.attnOnly()) wrong.add("the blocks have no MLP");
        if (c.parallelAttnMlp()) wrong.add("attention and MLP run in parallel");
        Biases b = c.biases();
        if (b.qkv() != b.attnOut())
            wrong.add("attention biases must be all on or all off (Llama's attention_bias), got qkv=" + b.qkv()
                    + ", out=" + b.attnOut());
        if (b.mlpIn() || b.mlpOut()) wrong.add("the MLP has biases");
        if (b.unembed()) wrong.add("the unembedding has a bias");
        if (!wrong.isEmpty())
            throw new LoupeException("cannot write a Hugging Face llama model: " + String.join("; ", wrong));
    }
}
