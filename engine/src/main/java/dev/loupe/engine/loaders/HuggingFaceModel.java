package dev.loupe.engine.loaders;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a Hugging Face model folder (what {@code save_pretrained} writes, or a snapshot downloaded
 * from the Hub): {@code config.json} plus {@code model.safetensors} or a sharded
 * {@code model.safetensors.index.json}.
 * <pre>{@code
 * HookedTransformer gpt2 = HuggingFaceModel.load(Path.of("models/gpt2"));
 * }</pre>
 * Supported {@code model_type}s: gpt2, gpt_neox (Pythia), llama (also SmolLM2), mistral, qwen2 (also
 * QwQ), qwen3, phi3, olmo2, gemma, gemma2, gemma3_text (see {@code docs/models.md} for the keys read,
 * in both the transformers 4.x and 5 config styles, and how each family's quirks map onto hooks). Weights
 * stored as F32, F16, BF16 or F64 are computed in float32; tensors are converted one at a time, so
 * loading needs about one float32 copy of the model plus its largest tensor.
 * <p>
 * Everything that can go wrong with the folder is a {@link LoupeException} naming the file and the
 * key or tensor: an unsupported model_type (the message lists the supported ones), a missing or
 * inconsistent config key, a shard the index lists that is not on disk, a tensor missing, left
 * over, or of the wrong shape (expected and found), a malformed safetensors file.
 */
public final class HuggingFaceModel {
    public static final String CONFIG = "config.json";

    private static final Map<String, HfFamily> FAMILIES = new LinkedHashMap<>();

    static {
        FAMILIES.put("gpt2", new Gpt2Family());
        FAMILIES.put("gpt_neox", new GptNeoXFamily());
        FAMILIES.put("llama", new LlamaFamily(LlamaFamily.Variant.LLAMA));
        FAMILIES.put("mistral", new LlamaFamily(LlamaFamily.Variant.MISTRAL));
        FAMILIES.put("qwen2", new LlamaFamily(LlamaFamily.Variant.QWEN2));
        FAMILIES.put("qwen3", new LlamaFamily(LlamaFamily.Variant.QWEN3));
        FAMILIES.put("phi3", new Phi3Family());
        FAMILIES.put("olmo2", new Olmo2Family());
        FAMILIES.put("gemma", new GemmaFamily(GemmaFamily.Variant.GEMMA));
        FAMILIES.put("gemma2", new GemmaFamily(GemmaFamily.Variant.GEMMA2));
        FAMILIES.put("gemma3_text", new GemmaFamily(GemmaFamily.Variant.GEMMA3));
    }

    private HuggingFaceModel() {}

    public static List<String> supportedModelTypes() {
        return List.copyOf(FAMILIES.keySet());
    }

    /** True when {@code dir} has a {@code config.json} with a {@code model_type} (supported or not). */
    public static boolean isHuggingFaceFolder(Path dir) {
        Path file = dir.resolve(CONFIG);
        if (!Files.isRegularFile(file)) return false;
        try {
            return HfConfig.read(file).modelType() != null;
        } catch (LoupeException e) {
            return false;
        }
    }

    /** The Loupe config that the folder's {@code config.json} describes (reads no weights). */
    public static ModelConfig readConfig(Path dir) {
        return readConfig(HfConfig.read(dir.resolve(CONFIG)));
    }

    public static HookedTransformer load(Path dir) {
        if (!Files.isDirectory(dir)) throw new LoupeException(dir + ": not a folder");
        HfConfig c = HfConfig.read(dir.resolve(CONFIG));
        ModelConfig cfg = readConfig(c);
        try (SafetensorsFolder src = SafetensorsFolder.open(dir)) {
            HfWeights w = new HfWeights(src, c.modelType());
            family(c).readWeights(cfg, c, w);
            return new HookedTransformer(cfg, new Weights(w.tensors()));
        }
    }

    /**
     * Keys that give a model mixture-of-experts layers: Loupe computes dense MLPs only, so a config
     * with any of them set is refused rather than run with the wrong MLP.
     */
    private static final java.util.List<String> MOE_KEYS = java.util.List.of(
            "num_experts", "num_local_experts", "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size");

    private static ModelConfig readConfig(HfConfig c) {
        HfFamily f = family(c);
        for (String key : MOE_KEYS)
            if (c.has(key) && !(c.isNumber(key) && c.requiredDouble(key) == 0))
                throw c.invalid(key, "is set: mixture-of-experts layers are not supported (Loupe computes dense MLPs)");
        c.storedDtype(); // refuses dtype and torch_dtype that disagree
        try {
            return f.config(c);
        } catch (LoupeException e) {
            // ModelConfig's own checks name the field, not the file.
            if (e.getMessage() != null && e.getMessage().startsWith(c.file().toString())) throw e;
            throw new LoupeException(c.file() + ": " + e.getMessage(), e);
        }
    }

    private static HfFamily family(HfConfig c) {
        String type = c.modelType();
        if (type == null)
            throw new LoupeException(c.file() + ": no \"model_type\" string; supported model types: "
                    + String.join(", ", FAMILIES.keySet()));
        HfFamily f = FAMILIES.get(type);
        if (f == null)
            throw new LoupeException(c.file() + ": model_type \"" + type
                    + "\" is not supported; supported model types: " + String.join(", ", FAMILIES.keySet()));
        return f;
    }
}
