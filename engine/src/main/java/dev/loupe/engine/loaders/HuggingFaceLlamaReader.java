package dev.loupe.engine.loaders;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.Weights;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Loads a Hugging Face Llama-family folder ({@code config.json} + {@code model.safetensors}, or
 * shards listed in {@code model.safetensors.index.json}) — what {@link HuggingFaceLlamaWriter}
 * writes, and the same layout for {@code model_type} {@code llama}, {@code mistral} and
 * {@code qwen2}: RMSNorm, SwiGLU, grouped-query attention, {@code rope_theta}, tied or untied
 * embeddings, and attention biases (Llama's {@code attention_bias} on q, k, v and o; Qwen2's on q, k
 * and v).
 *
 * <p>Hugging Face stores q and k for rotate-half RoPE, which is Loupe's layout, so the projections
 * are only transposed from [out, in] to Loupe's [in, out]. Tensors of any float type are read one
 * at a time and converted to float32.
 *
 * <p>Not supported, each a {@link LoupeException}: {@code rope_scaling}, activations other than
 * SiLU, MLP biases, and {@code pytorch_model.bin} weights. Loupe has no sliding-window attention:
 * a Mistral/Qwen2 sliding window becomes the context length, so that every sequence the model
 * accepts gives exactly Hugging Face's result.
 */
public final class HuggingFaceLlamaReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> FAMILIES = List.of("llama", "mistral", "qwen2");

    private HuggingFaceLlamaReader() {
    }

    /** Loads the model in {@code dir} as float32. */
    public static HookedTransformer load(Path dir) {
        ModelConfig cfg = readConfig(dir);
        Map<String, INDArray> tensors = readWeights(dir, cfg);
        Weights weights = new Weights(tensors);
        weights.validate(cfg, dir.toString());
        return new HookedTransformer(cfg, weights);
    }

    /** The Loupe config of the folder's {@code config.json}. */
    public static ModelConfig readConfig(Path dir) {
        Path file = dir.resolve(HuggingFaceLlamaWriter.CONFIG);
        if (!Files.isRegularFile(file))
            throw new LoupeException(dir + ": not a Hugging Face model folder (no " + HuggingFaceLlamaWriter.CONFIG + ")");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new LoupeException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        if (root == null || !root.isObject()) throw new LoupeException(file + ": expected a JSON object");
        Config c = new Config(file, root);
        String type = c.string("model_type", null);
        if (type == null || !FAMILIES.contains(type))
            throw new LoupeException(file + ": model_type is " + (type == null ? "missing" : "'" + type + "'")
                    + "; this reader supports " + FAMILIES);
        String act = c.string("hidden_act", "silu");
        if (!act.equals("silu")) throw new LoupeException(file + ": hidden_act '" + act + "' is not supported (only silu)");
        if (!c.absent("rope_scaling"))
            throw new LoupeException(file + ": rope_scaling " + root.get("rope_scaling") + " is not supported");
        if (c.bool("mlp_bias", false)) throw new LoupeException(file + ": mlp_bias is not supported");
        int d = c.positiveInt("hidden_size", null), heads = c.positiveInt("num_attention_heads", null);
        int dHead = c.positiveInt("head_dim", heads > 0 && d % heads == 0 ? d / heads : null);
        int nCtx = c.positiveInt("max_position_embeddings", 2048);
        boolean window = type.equals("mistral") || (type.equals("qwen2") && c.bool("use_sliding_window", false));
        if (window && !c.absent("sliding_window")) nCtx = Math.min(nCtx, c.positiveInt("sliding_window", null));
        Biases biases = switch (type) {
            case "qwen2" -> new Biases(true, false, false, false, false);
            default -> c.bool("attention_bias", false) ? new Biases(true, true, false, false, false) : Biases.none();
        };
        try {
            return ModelConfig.builder()
                    .dModel(d).nLayers(c.positiveInt("num_hidden_layers", null)).nHeads(heads)
                    .nKvHeads(c.positiveInt("num_key_value_heads", heads)).dHead(dHead)
                    .dMlp(c.positiveInt("intermediate_size", null)).dVocab(c.positiveInt("vocab_size", null)).nCtx(nCtx)
                    .normalization(Normalization.RMS_NORM).normEps(c.number("rms_norm_eps", 1e-6))
                    .positional(Positional.ROTARY).rotaryDim(dHead).rotaryBase(c.number("rope_theta", 10000))
                    .activation(Activation.SILU_GATED).biases(biases)
                    .tiedEmbeddings(c.bool("tie_word_embeddings", false)).dtype("float32")
                    .build();
        } catch (LoupeException e) {
            throw new LoupeException(file + ": " + e.getMessage(), e);
        }
    }

    /** Hugging Face name -> Loupe name and whether it is a Linear weight to transpose. */
    private static Map<String, String> names(ModelConfig c) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", "embed.W_E");
        for (int l = 0; l < c.nLayers(); l++) {
            String b = "blocks." + l + ".", hf = "model.layers." + l + ".";
            m.put(hf + "input_layernorm.weight", b + "ln1.w");
            m.put(hf + "self_attn.q_proj.weight", b + "attn.W_Q");
            m.put(hf + "self_attn.k_proj.weight", b + "attn.W_K");
            m.put(hf + "self_attn.v_proj.weight", b + "attn.W_V");
            m.put(hf + "self_attn.o_proj.weight", b + "attn.W_O");
            if (c.biases().qkv()) {
                m.put(hf + "self_attn.q_proj.bias", b + "attn.b_Q");
                m.put(hf + "self_attn.k_proj.bias", b + "attn.b_K");
                m.put(hf + "self_attn.v_proj.bias", b + "attn.b_V");
            }
            if (c.biases().attnOut()) m.put(hf + "self_attn.o_proj.bias", b + "attn.b_O");
            m.put(hf + "post_attention_layernorm.weight", b + "ln2.w");
            m.put(hf + "mlp.gate_proj.weight", b + "mlp.W_gate");
            m.put(hf + "mlp.up_proj.weight", b + "mlp.W_in");
            m.put(hf + "mlp.down_proj.weight", b + "mlp.W_out");
        }
        m.put("model.norm.weight", "ln_final.w");
        if (!c.tiedEmbeddings()) m.put("lm_head.weight", "unembed.W_U");
        return m;
    }

    private static Map<String, INDArray> readWeights(Path dir, ModelConfig cfg) {
        Map<String, Path> files = weightFiles(dir);
        Map<String, String> names = names(cfg);
        Map<String, long[]> loupeShapes = Weights.expectedShapes(cfg);
        Map<String, SafetensorsReader> open = new LinkedHashMap<>();
        Map<String, INDArray> out = new LinkedHashMap<>();
        try {
            for (Path f : new java.util.LinkedHashSet<>(files.values())) open.put(f.toString(), SafetensorsReader.open(f));
            Map<String, SafetensorsReader> holder = new TreeMap<>();
            for (SafetensorsReader r : open.values())
                for (String n : r.names()) {
                    if (n.endsWith(".rotary_emb.inv_freq")) continue;                   // a buffer older versions saved
                    if (n.equals("lm_head.weight") && cfg.tiedEmbeddings()) continue;  // Hugging Face ties it to the embedding
                    if (!names.containsKey(n))
                        throw new LoupeException(r.file() + ": unexpected tensor '" + n + "' for this config"
                                + " (" + describe(cfg) + ")");
                    if (files.containsKey(n) && !files.get(n).equals(r.file())) continue;   // the index says another shard
                    holder.put(n, r);
                }
            for (var e : names.entrySet()) {
                SafetensorsReader r = holder.get(e.getKey());
                if (r == null)
                    throw new LoupeException(dir + ": missing tensor '" + e.getKey() + "' (" + describe(cfg) + ")");
                String loupe = e.getValue();
                boolean linear = e.getKey().endsWith("_proj.weight") || e.getKey().equals("lm_head.weight");
                long[] want = loupeShapes.get(loupe);
                long[] hfShape = linear ? new long[]{want[1], want[0]} : want;
                long[] stored = r.info(e.getKey()).shape();
                if (!Arrays.equals(stored, hfShape))
                    throw new LoupeException(r.file() + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(stored)
                            + ", expected " + Arrays.toString(hfShape) + " for this config (" + describe(cfg) + ")");
                INDArray a = r.readFloat(e.getKey());
                if (linear) {
                    INDArray t = a.transpose().dup('c');                               // [out, in] -> [in, out]
                    if (a.closeable()) a.close();
                    a = t;
                }
                out.put(loupe, a);
            }
        } finally {
            open.values().forEach(SafetensorsReader::close);
        }
        return out;
    }

    /**
     * Tensor name -> file for a sharded folder ({@code model.safetensors.index.json}); for a single
     * {@code model.safetensors}, one entry under the empty name.
     */
    private static Map<String, Path> weightFiles(Path dir) {
        Path single = dir.resolve(HuggingFaceLlamaWriter.WEIGHTS);
        Path index = dir.resolve("model.safetensors.index.json");
        Map<String, Path> files = new LinkedHashMap<>();
        if (Files.isRegularFile(single)) {
            files.put("", single);
            return files;
        }
        if (!Files.isRegularFile(index)) {
            String hint = Files.isRegularFile(dir.resolve("pytorch_model.bin")) ? " (pytorch_model.bin is not supported:"
                    + " convert it to safetensors)" : "";
            throw new LoupeException(dir + ": no model.safetensors or model.safetensors.index.json" + hint);
        }
        JsonNode map;
        try {
            map = JSON.readTree(index.toFile()).path("weight_map");
        } catch (IOException e) {
            throw new LoupeException(index + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        if (!map.isObject() || map.isEmpty()) throw new LoupeException(index + ": expected a non-empty \"weight_map\" object");
        Path base = dir.toAbsolutePath().normalize();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            var e = it.next();
            String shard = e.getValue().asText("");
            Path p;
            try {
                p = base.resolve(shard).normalize();
            } catch (java.nio.file.InvalidPathException bad) {
                p = null;
            }
            if (!e.getValue().isTextual() || shard.isEmpty() || p == null || !base.equals(p.getParent()) || !Files.isRegularFile(p))
                throw new LoupeException(index + ": tensor '" + e.getKey() + "' maps to " + e.getValue()
                        + ", which is not a file in " + dir);
            files.put(e.getKey(), p);
        }
        return files;
    }

    private static String describe(ModelConfig c) {
        return c.nLayers() + " layers, " + (c.tiedEmbeddings() ? "tied" : "untied") + " embeddings, "
                + (c.biases().qkv() ? "attention biases" : "no biases");
    }

    /** Typed access to config.json; a JSON null counts as absent, as it does for Hugging Face. */
    private record Config(Path file, JsonNode root) {
        boolean absent(String key) {
            return !root.hasNonNull(key);
        }

        String string(String key, String fallback) {
            if (absent(key)) return fallback;
            JsonNode n = root.get(key);
            if (!n.isTextual()) throw wrong(key, "a string");
            return n.asText();
        }

        int positiveInt(String key, Integer fallback) {
            if (absent(key)) {
                if (fallback == null) throw new LoupeException(file + ": \"" + key + "\" is missing");
                return fallback;
            }
            JsonNode n = root.get(key);
            if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() <= 0) throw wrong(key, "a positive integer");
            return n.asInt();
        }

        double number(String key, double fallback) {
            if (absent(key)) return fallback;
            JsonNode n = root.get(key);
            if (!n.isNumber() || !Double.isFinite(n.asDouble())) throw wrong(key, "a number");
            return n.asDouble();
        }

        boolean bool(String key, boolean fallback) {
            if (absent(key)) return fallback;
            JsonNode n = root.get(key);
            if (!n.isBoolean()) throw wrong(key, "true or false");
            return n.asBoolean();
        }

        private LoupeException wrong(String key, String expected) {
            return new LoupeException(file + ": \"" + key + "\" is " + root.get(key) + ", expected " + expected);
        }
    }
}
