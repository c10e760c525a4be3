package dev.loupe.saes;

import dev.loupe.engine.LoupeException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * What SAELens's {@code cfg.json} says about an SAE (its {@code SAEConfig} and the architecture's
 * fields), immutable.
 *
 * @param architecture             the inference architecture (never {@link Architecture#BATCHTOPK}: that trains into JUMPRELU)
 * @param dIn                      input width ({@code d_in})
 * @param dSae                     number of latents ({@code d_sae})
 * @param dtype                    the weights' dtype as SAELens names it: float32, float64, float16, bfloat16
 * @param applyBDecToInput         subtract {@code b_dec} from the input before encoding
 * @param normalizeActivations     see {@link Normalization}
 * @param reshapeActivations       {@code none}, or {@code hook_z}: inputs are [..., n_heads, d_head], flattened
 * @param k                        latents kept per row (TopK only; 0 otherwise)
 * @param rescaleActsByDecoderNorm TopK only: select the top k of {@code pre · ||W_dec[f]||}, decode {@code acts / ||W_dec[f]||}
 * @param metadata                 SAELens's {@code metadata}: {@code hook_name}, {@code model_name}, {@code context_size}, ...
 */
public record SaeConfig(
        Architecture architecture,
        int dIn,
        int dSae,
        String dtype,
        boolean applyBDecToInput,
        Normalization normalizeActivations,
        String reshapeActivations,
        int k,
        boolean rescaleActsByDecoderNorm,
        Map<String, Object> metadata) {

    /** The dtypes SAELens's {@code DTYPE_MAP} knows, without the {@code torch.} prefix. */
    public static final Set<String> DTYPES = Set.of("float32", "float64", "float16", "bfloat16");

    public SaeConfig {
        if (architecture == null) throw new LoupeException("SAE config: architecture is required");
        if (architecture == Architecture.BATCHTOPK)
            throw new LoupeException("SAE config: a BatchTopK SAE is saved and used as a jumprelu SAE (SAELens does"
                    + " the same); use Architecture.JUMPRELU");
        if (dIn < 1) throw new LoupeException("SAE config: d_in must be >= 1, got " + dIn);
        if (dSae < 1) throw new LoupeException("SAE config: d_sae must be >= 1, got " + dSae);
        dtype = dtype == null ? "float32" : dtype.startsWith("torch.") ? dtype.substring(6) : dtype;
        if (!DTYPES.contains(dtype))
            throw new LoupeException("SAE config: dtype must be one of " + DTYPES + ", got '" + dtype + "'");
        if (normalizeActivations == null) normalizeActivations = Normalization.NONE;
        if (reshapeActivations == null) reshapeActivations = "none";
        if (!reshapeActivations.equals("none") && !reshapeActivations.equals("hook_z"))
            throw new LoupeException(
                    "SAE config: reshape_activations must be 'none' or 'hook_z', got '" + reshapeActivations + "'");
        if (architecture == Architecture.TOPK) {
            if (k < 1) throw new LoupeException("SAE config: a topk SAE needs k >= 1, got k = " + k);
            if (k > dSae)
                throw new LoupeException("SAE config: k = " + k + " is larger than d_sae = " + dSae
                        + " (a topk SAE keeps k of its d_sae latents)");
        } else {
            k = 0;
            rescaleActsByDecoderNorm = false;
        }
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata == null ? Map.of() : metadata));
    }

    /** A config with SAELens's defaults: float32, apply_b_dec_to_input, no normalization, no metadata. */
    public static SaeConfig of(Architecture architecture, int dIn, int dSae, int k) {
        return new SaeConfig(architecture, dIn, dSae, "float32", true, Normalization.NONE, "none", k, false, Map.of());
    }

    /** {@code metadata.hook_name}, or null. */
    public String hookName() {
        Object h = metadata.get("hook_name");
        return h == null ? null : h.toString();
    }

    /** {@code metadata.model_name}, or null. */
    public String modelName() {
        Object m = metadata.get("model_name");
        return m == null ? null : m.toString();
    }

    /** {@code metadata.context_size}, or -1. */
    public int contextSize() {
        return metadata.get("context_size") instanceof Number n ? n.intValue() : -1;
    }

    /** {@code metadata.prepend_bos}, default true (SAELens's default). */
    public boolean prependBos() {
        return !(metadata.get("prepend_bos") instanceof Boolean b) || b;
    }

    public SaeConfig withMetadata(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(metadata);
        if (value == null) m.remove(key);
        else m.put(key, value);
        return new SaeConfig(
                architecture,
                dIn,
                dSae,
                dtype,
                applyBDecToInput,
                normalizeActivations,
                reshapeActivations,
                k,
                rescaleActsByDecoderNorm,
                m);
    }

    public SaeConfig withHookName(String hook) {
        return withMetadata("hook_name", hook);
    }

    public SaeConfig withNormalization(Normalization n) {
        return new SaeConfig(
                architecture,
                dIn,
                dSae,
                dtype,
                applyBDecToInput,
                n,
                reshapeActivations,
                k,
                rescaleActsByDecoderNorm,
                metadata);
    }

    public SaeConfig withApplyBDecToInput(boolean on) {
        return new SaeConfig(
                architecture,
                dIn,
                dSae,
                dtype,
                on,
                normalizeActivations,
                reshapeActivations,
                k,
                rescaleActsByDecoderNorm,
                metadata);
    }

    public SaeConfig withRescaleActsByDecoderNorm(boolean on) {
        return new SaeConfig(
                architecture,
                dIn,
                dSae,
                dtype,
                applyBDecToInput,
                normalizeActivations,
                reshapeActivations,
                k,
                on,
                metadata);
    }

    public SaeConfig withDtype(String d) {
        return new SaeConfig(
                architecture,
                dIn,
                dSae,
                d,
                applyBDecToInput,
                normalizeActivations,
                reshapeActivations,
                k,
                rescaleActsByDecoderNorm,
                metadata);
    }

    /** A short description for tables and errors: {@code topk d_in=64 d_sae=512 k=8 @ blocks.0.hook_resid_post}. */
    public String describe() {
        return architecture.saeLensName() + " d_in=" + dIn + " d_sae=" + dSae
                + (architecture == Architecture.TOPK ? " k=" + k : "")
                + (hookName() != null ? " @ " + hookName() : "");
    }
}
