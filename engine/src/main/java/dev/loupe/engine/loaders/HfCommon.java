package dev.loupe.engine.loaders;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.RopeScaling;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/** Config keys that several Hugging Face families spell the same way. */
final class HfCommon {
    private HfCommon() {}

    /** Hugging Face {@code ACT2FN} names of the non-gated MLPs Loupe computes. */
    private static final Map<String, Activation> PLAIN = Map.of(
            "gelu",
            Activation.GELU,
            "gelu_new",
            Activation.GELU_NEW,
            "gelu_pytorch_tanh",
            Activation.GELU_NEW,
            "gelu_fast",
            Activation.GELU_NEW,
            "relu",
            Activation.RELU);
    /** ... and of the gate's nonlinearity in gated MLPs. */
    private static final Map<String, Activation> GATED = Map.of(
            "silu",
            Activation.SILU_GATED,
            "swish",
            Activation.SILU_GATED,
            "gelu_pytorch_tanh",
            Activation.GELU_GATED,
            "gelu_new",
            Activation.GELU_GATED,
            "gelu_fast",
            Activation.GELU_GATED);

    static Activation activation(HfConfig c, String key, String dflt, boolean gated) {
        String name = c.optionalString(key, dflt);
        Map<String, Activation> known = gated ? GATED : PLAIN;
        Activation a = known.get(name);
        if (a == null)
            throw c.invalid(
                    key,
                    "is \"" + name + "\"; Loupe computes " + (gated ? "gated MLPs with " : "") + "one of "
                            + new java.util.TreeSet<>(known.keySet()));
        return a;
    }

    /** d_model / n_heads, when the config gives no head_dim. */
    static int headDim(HfConfig c, String headDimKey, String dModelKey, int dModel, String headsKey, int heads) {
        if (c.has(headDimKey)) return c.positiveInt(headDimKey);
        if (dModel % heads != 0)
            throw c.invalid(
                    dModelKey,
                    "(" + dModel + ") must be a multiple of " + headsKey + " (" + heads + ") when " + headDimKey
                            + " is not given");
        return dModel / heads;
    }

    /** {@code rope_theta}, or (transformers 5) {@code rope_parameters.rope_theta}. */
    static double ropeTheta(HfConfig c, String key, double dflt) {
        double theta = dflt;
        if (c.has(key)) theta = c.requiredDouble(key);
        else {
            JsonNode p = c.optionalObject("rope_parameters");
            if (p != null && p.has("rope_theta")) {
                key = "rope_parameters.rope_theta";
                theta = c.nestedDouble("rope_parameters", p, "rope_theta");
            }
        }
        if (!(theta > 0)) throw c.invalid(key, "must be > 0, found " + theta);
        return theta;
    }

    /**
     * {@code rope_scaling} (or {@code rope_parameters}): null for none / {@code "default"}, Llama 3's
     * parameters for {@code "llama3"}; any other type is refused rather than computed wrongly.
     */
    static RopeScaling ropeScaling(HfConfig c) {
        String key = c.has("rope_scaling") ? "rope_scaling" : "rope_parameters";
        JsonNode s = c.optionalObject(key);
        if (s == null) return null;
        JsonNode type = s.has("rope_type") ? s.get("rope_type") : s.get("type");
        String name = type == null || type.isNull() ? "default" : type.asText();
        if (name.equals("default")) return null;
        if (!name.equals("llama3"))
            throw c.invalid(key, "has rope_type \"" + name + "\"; Loupe supports \"default\" and \"llama3\"");
        return new RopeScaling(
                c.nestedDouble(key, s, "factor"),
                c.nestedDouble(key, s, "low_freq_factor"),
                c.nestedDouble(key, s, "high_freq_factor"),
                c.nestedInt(key, s, "original_max_position_embeddings"));
    }

    /**
     * Makes the local layers (see {@link #localLayers}) attend within {@code window}; a null window
     * or no local layer leaves every layer global.
     */
    static void applyWindow(
            dev.loupe.engine.model.ModelConfig.Builder b,
            HfConfig c,
            int nLayers,
            Integer window,
            IntPredicate localByDefault) {
        if (window == null) return;
        List<Integer> local = localLayers(c, nLayers, localByDefault);
        if (!local.isEmpty()) b.windowSize(window).localAttnLayers(local);
    }

    /**
     * The local (sliding window) layers: from {@code layer_types} when the config lists them
     * ({@code "sliding_attention"} / {@code "full_attention"}), otherwise those {@code byDefault} picks.
     */
    static List<Integer> localLayers(HfConfig c, int nLayers, IntPredicate byDefault) {
        JsonNode types = c.optionalArray("layer_types");
        List<Integer> local = new ArrayList<>();
        if (types != null) {
            if (types.size() != nLayers)
                throw c.invalid(
                        "layer_types", "has " + types.size() + " entries, expected one per layer (" + nLayers + ")");
            for (int l = 0; l < nLayers; l++) {
                String t = types.get(l).asText("");
                if (t.equals("sliding_attention")) local.add(l);
                else if (!t.equals("full_attention"))
                    throw c.invalid(
                            "layer_types",
                            "entry " + l + " is " + types.get(l)
                                    + "; expected \"sliding_attention\" or \"full_attention\"");
            }
            return local;
        }
        for (int l = 0; l < nLayers; l++) if (byDefault.test(l)) local.add(l);
        return local;
    }

    /** {@code sliding_window}: null when the key is null (no window), the default when absent. */
    static Integer slidingWindow(HfConfig c, Integer dflt) {
        if (c.isNull("sliding_window")) return null;
        if (!c.has("sliding_window")) return dflt;
        int w = c.requiredInt("sliding_window");
        if (w <= 0) throw c.invalid("sliding_window", "must be >= 1, found " + w);
        return w;
    }

    /** A soft-cap value: 0 (off) when the key is null, the default when absent. */
    static double softCap(HfConfig c, String key, double dflt) {
        if (c.isNull(key)) return 0;
        double v = c.optionalDouble(key, dflt);
        if (!(v > 0)) throw c.invalid(key, "must be > 0 (or null for none), found " + v);
        return v;
    }
}
