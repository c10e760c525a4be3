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

    /** {@code num_key_value_heads} (default: as many as query heads), which must divide the query heads. */
    static int kvHeads(HfConfig c, int heads) {
        int kvHeads = c.has("num_key_value_heads") ? c.positiveInt("num_key_value_heads") : heads;
        if (heads % kvHeads != 0)
            throw c.invalid(
                    "num_attention_heads",
                    "(" + heads + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        return kvHeads;
    }

    /** The rotated dimensions of each head: {@code int(head_dim * partial_rotary_factor)}, as transformers computes it. */
    static int rotaryDim(HfConfig c, int headDim, Rope rope) {
        int r = (int) (headDim * rope.partialFactor());
        if (r < 2 || r % 2 != 0)
            throw c.invalid(
                    "partial_rotary_factor",
                    "(" + rope.partialFactor() + ") of head_dim " + headDim + " gives " + r
                            + " rotated dimensions; Loupe needs an even number >= 2");
        return r;
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

    /** Rotary position parameters: the base (theta), the fraction of each head rotated, and Llama 3's scaling (or null). */
    record Rope(double theta, double partialFactor, RopeScaling scaling) {}

    /**
     * The names a family's transformers 4.x configs give the rotary keys: where the base is
     * ({@code rope_theta}; GPT-NeoX {@code rotary_emb_base}; Gemma 3's local layers
     * {@code rope_local_base_freq}), where the rotated fraction is ({@code partial_rotary_factor};
     * GPT-NeoX {@code rotary_pct}), and whether {@code rope_scaling} applies (Gemma 3's local layers:
     * no). Transformers 5 writes all of them into {@code rope_parameters} (per layer type for Gemma 3).
     */
    record RopeKeys(String theta, String partial, boolean scaling) {
        static final RopeKeys STANDARD = new RopeKeys("rope_theta", "partial_rotary_factor", true);
    }

    /**
     * The rotary parameters from either config style: transformers 5's {@code rope_parameters}
     * ({@code rope_type}, {@code rope_theta}, {@code partial_rotary_factor}, the scaling's own keys;
     * nested by layer type when {@code layerType} is given) and 4.x's top-level keys ({@code keys}, and
     * {@code rope_scaling}). A value both give must agree; a rope type other than {@code "default"}
     * and {@code "llama3"} is refused rather than computed wrongly.
     *
     * @param layerType {@code "full_attention"} or {@code "sliding_attention"} for configs that give
     *                  each its own parameters (Gemma 3), else null
     */
    static Rope rope(HfConfig c, String layerType, RopeKeys keys, double defaultTheta, double defaultPartial) {
        String v5Key = "rope_parameters";
        JsonNode v5 = c.optionalObject(v5Key);
        if (v5 != null && layerType != null) {
            JsonNode nested = v5.get(layerType);
            if (nested == null || !nested.isObject())
                throw c.invalid(
                        v5Key,
                        "has no object \"" + layerType
                                + "\"; this model_type's rotary parameters are given per layer type");
            v5Key = v5Key + "." + layerType;
            v5 = nested;
        }
        double theta = agreeing(c, v5Key, v5, "rope_theta", keys.theta(), defaultTheta);
        String thetaKey = v5 != null && v5.has("rope_theta") ? v5Key + ".rope_theta" : keys.theta();
        if (!(theta > 0)) throw c.invalid(thetaKey, "must be > 0, found " + theta);
        double partial = agreeing(c, v5Key, v5, "partial_rotary_factor", keys.partial(), defaultPartial);
        if (!(partial > 0 && partial <= 1)) {
            String key =
                    v5 != null && v5.has("partial_rotary_factor") ? v5Key + ".partial_rotary_factor" : keys.partial();
            throw c.invalid(key, "must be in (0, 1], found " + partial);
        }
        JsonNode legacy = keys.scaling() ? c.optionalObject("rope_scaling") : null;
        RopeScaling fromV5 = v5 == null ? null : scaling(c, v5Key, v5);
        RopeScaling fromLegacy = legacy == null ? null : scaling(c, "rope_scaling", legacy);
        if (v5 != null && legacy != null && !java.util.Objects.equals(fromV5, fromLegacy))
            throw c.invalid(
                    "rope_scaling",
                    "(" + describe(fromLegacy) + ") contradicts " + v5Key + " (" + describe(fromV5) + ")");
        return new Rope(theta, partial, fromV5 != null ? fromV5 : fromLegacy);
    }

    /**
     * {@code key} from {@code v5} or {@code legacyKey} at the top level, whichever the config has; the
     * default when neither; refused when both are there and differ.
     */
    private static double agreeing(HfConfig c, String v5Key, JsonNode v5, String key, String legacyKey, double dflt) {
        boolean inV5 = v5 != null && v5.has(key) && !v5.get(key).isNull();
        boolean inLegacy = legacyKey != null && c.has(legacyKey);
        double a = inV5 ? c.toDouble(v5Key + "." + key, v5.get(key)) : dflt;
        double b = inLegacy ? c.requiredDouble(legacyKey) : dflt;
        if (inV5 && inLegacy && a != b)
            throw c.invalid(legacyKey, "is " + b + " but " + v5Key + "." + key + " is " + a + "; they must agree");
        return inV5 ? a : b;
    }

    /** The scaling one rope object asks for: null for {@code "default"}, Llama 3's for {@code "llama3"}; other types refused. */
    private static RopeScaling scaling(HfConfig c, String key, JsonNode s) {
        JsonNode type = s.has("rope_type") ? s.get("rope_type") : s.get("type");
        String typeKey = key + (s.has("rope_type") ? ".rope_type" : ".type");
        if (s.has("rope_type") && s.has("type") && !s.get("type").equals(s.get("rope_type")))
            throw c.invalid(
                    key, "has rope_type " + s.get("rope_type") + " and type " + s.get("type") + "; they must agree");
        String name = type == null || type.isNull() ? "default" : type.asText();
        if (name.equals("default")) return null;
        if (!name.equals("llama3"))
            throw c.invalid(
                    typeKey,
                    "is \"" + name + "\"; Loupe computes the \"default\" and \"llama3\" rotary embeddings only (not "
                            + "linear, dynamic, yarn or longrope scaling)");
        int original = s.has("original_max_position_embeddings")
                ? c.nestedInt(key, s, "original_max_position_embeddings")
                : c.has("original_max_position_embeddings")
                        ? c.requiredInt("original_max_position_embeddings")
                        : c.nestedInt(key, s, "original_max_position_embeddings");
        return new RopeScaling(
                c.nestedDouble(key, s, "factor"),
                c.nestedDouble(key, s, "low_freq_factor"),
                c.nestedDouble(key, s, "high_freq_factor"),
                original);
    }

    private static String describe(RopeScaling s) {
        return s == null ? "no scaling" : "llama3 scaling " + s;
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
