package dev.loupe.engine.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import dev.loupe.engine.LoupeException;
import java.util.List;
import javax.annotation.Nullable;
import org.immutables.value.Value;

/**
 * Everything that defines a Transformer's architecture. Immutable; build one with {@link #builder()}
 * and derive variants with {@link #toBuilder()}. Field names follow TransformerLens's
 * {@code HookedTransformerConfig} where it has one.
 * <p>
 * Each field is declared once, below: its accessor, its key in a checkpoint's {@code config.json}
 * ({@code @JsonProperty}) and its default (the body of a {@code @Value.Default} accessor; widths
 * default to 0, which validation refuses, so they must be set). The builder, the copy
 * ({@link #toBuilder()}), equality and the JSON mapping are generated from these declarations
 * (Immutables, at compile time), a checkpoint written before a field existed takes its default
 * ({@code Checkpoint}), and docs/architecture.md's table of fields is checked against them.
 */
@Value.Immutable
@Value.Style(visibility = Value.Style.ImplementationVisibility.PACKAGE, jdkOnly = true)
@JsonSerialize(as = ImmutableModelConfig.class)
@JsonDeserialize(as = ImmutableModelConfig.class)
public abstract class ModelConfig {

    /** Residual stream width. */
    @JsonProperty("d_model")
    @Value.Default
    public int dModel() {
        return 0;
    }

    /** Number of blocks. */
    @JsonProperty("n_layers")
    @Value.Default
    public int nLayers() {
        return 0;
    }

    /** Query heads per layer. */
    @JsonProperty("n_heads")
    @Value.Default
    public int nHeads() {
        return 0;
    }

    /** Key/value heads per layer ({@code < nHeads} means grouped-query attention); default nHeads. */
    @JsonProperty("n_kv_heads")
    @Value.Default
    public int nKvHeads() {
        return nHeads();
    }

    /** Width of one head; default dModel / nHeads. */
    @JsonProperty("d_head")
    @Value.Default
    public int dHead() {
        return nHeads() > 0 ? dModel() / nHeads() : 0;
    }

    /** Hidden width of the MLP; default 4 * dModel (0 for attention-only models, whatever is set). */
    @JsonProperty("d_mlp")
    @Value.Default
    public int dMlp() {
        return attnOnly() ? 0 : 4 * dModel();
    }

    /** Vocabulary size. */
    @JsonProperty("d_vocab")
    @Value.Default
    public int dVocab() {
        return 0;
    }

    /** Maximum sequence length. */
    @JsonProperty("n_ctx")
    @Value.Default
    public int nCtx() {
        return 0;
    }

    /** Normalisation before attention, MLP and unembedding. */
    @JsonProperty("normalization")
    @Value.Default
    public Normalization normalization() {
        return Normalization.LAYER_NORM;
    }

    /** Epsilon added to the variance / mean square. */
    @JsonProperty("norm_eps")
    @Value.Default
    public double normEps() {
        return 1e-5;
    }

    /**
     * Gemma 2's extra RMSNorms on each sublayer's output, before it is added to the residual stream
     * ({@code ln1_post}, {@code ln2_post}); they always carry a weight (nothing can absorb it) and need
     * RMS_NORM or RMS_NORM_PRE.
     */
    @JsonProperty("use_normalization_before_and_after")
    @Value.Default
    public boolean useNormalizationBeforeAndAfter() {
        return false;
    }

    /**
     * OLMo 2's blocks: {@code ln1} and {@code ln2} normalise the attention's and the MLP's outputs,
     * before they are added to the residual stream, instead of their inputs. As in TransformerLens,
     * {@code hook_attn_out} and {@code hook_mlp_out} hold the outputs before those norms.
     */
    @JsonProperty("use_normalization_after_only")
    @Value.Default
    public boolean useNormalizationAfterOnly() {
        return false;
    }

    /** How position enters the model. */
    @JsonProperty("positional")
    @Value.Default
    public Positional positional() {
        return Positional.LEARNED;
    }

    /** Dimensions of each head that are rotated ({@code <= dHead}, even); default dHead for rotary models, else 0. */
    @JsonProperty("rotary_dim")
    @Value.Default
    public int rotaryDim() {
        return positional() == Positional.ROTARY ? dHead() : 0;
    }

    /** Rotary theta. */
    @JsonProperty("rotary_base")
    @Value.Default
    public double rotaryBase() {
        return 10000;
    }

    /**
     * Rotary theta of the local (sliding window) layers; default rotaryBase. When it differs (Gemma 3:
     * 10,000 locally, 1,000,000 globally), local layers use it without {@link #ropeScaling()}.
     */
    @JsonProperty("rotary_base_local")
    @Value.Default
    public double rotaryBaseLocal() {
        return rotaryBase();
    }

    /** Llama 3's rescaling of the rotary frequencies, or null for none. */
    @JsonProperty("rope_scaling")
    @Nullable
    public abstract RopeScaling ropeScaling();

    /** RMSNorm (with weight) of queries and keys after their projection, before rotary (Qwen 3, Gemma 3, OLMo 2). */
    @JsonProperty("qk_norm")
    @Value.Default
    public QkNorm qkNorm() {
        return QkNorm.NONE;
    }

    /** MLP nonlinearity. */
    @JsonProperty("activation")
    @Value.Default
    public Activation activation() {
        return Activation.GELU_NEW;
    }

    /** Blocks without an MLP. */
    @JsonProperty("attn_only")
    @Value.Default
    public boolean attnOnly() {
        return false;
    }

    /** Attention and MLP read the same residual (GPT-J / GPT-NeoX). */
    @JsonProperty("parallel_attn_mlp")
    @Value.Default
    public boolean parallelAttnMlp() {
        return false;
    }

    /** The unembedding is the transpose of the embedding. */
    @JsonProperty("tied_embeddings")
    @Value.Default
    public boolean tiedEmbeddings() {
        return false;
    }

    /** Which projections carry a bias. */
    @JsonProperty("biases")
    @Value.Default
    public Biases biases() {
        return Biases.all();
    }

    /** The token embedding is multiplied by this (Gemma: sqrt(d_model); 1 = off). */
    @JsonProperty("embed_scale")
    @Value.Default
    public double embedScale() {
        return 1;
    }

    /** Attention scores are q.k divided by this; default sqrt(dHead) (Gemma 2: sqrt(query_pre_attn_scalar)). */
    @JsonProperty("attn_scale")
    @Value.Default
    public double attnScale() {
        return Math.sqrt(dHead());
    }

    /** Scores become {@code c * tanh(scores / c)} before masking (0 = off). */
    @JsonProperty("attn_scores_soft_cap")
    @Value.Default
    public double attnScoresSoftCap() {
        return 0;
    }

    /** Logits become {@code c * tanh(logits / c)} (0 = off). */
    @JsonProperty("output_logits_soft_cap")
    @Value.Default
    public double outputLogitsSoftCap() {
        return 0;
    }

    /**
     * Key positions a local ("sliding window") attention layer sees, the query's own included: key s
     * is visible from query t when {@code t - windowSize < s <= t} (0 = no local layers).
     */
    @JsonProperty("window_size")
    @Value.Default
    public int windowSize() {
        return 0;
    }

    /** The layers that use local attention (sorted; empty = all global). */
    @JsonProperty("local_attn_layers")
    public abstract List<Integer> localAttnLayers();

    /** Keep the per-head output {@code attn.hook_result} (large: off by default). */
    @JsonProperty("use_attn_result")
    @Value.Default
    public boolean useAttnResult() {
        return false;
    }

    /** "float32" or "float64" (float64 is for gradient checks). */
    @JsonProperty("dtype")
    @Value.Default
    public String dtype() {
        return "float32";
    }

    public enum Normalization {
        /** (x - mean) / sqrt(var + eps) * w + b */
        LAYER_NORM,
        /** LayerNorm without its affine part: what remains after the weights were folded. */
        LAYER_NORM_PRE,
        /** x / sqrt(mean(x^2) + eps) * w */
        RMS_NORM,
        /** RMSNorm without its weight: what remains after folding. */
        RMS_NORM_PRE,
        NONE;

        public boolean hasWeights() {
            return this == LAYER_NORM || this == RMS_NORM;
        }

        public boolean centers() {
            return this == LAYER_NORM || this == LAYER_NORM_PRE;
        }
    }

    /**
     * How queries and keys are normalised (RMSNorm with a weight, the model's eps), between
     * {@code hook_q}/{@code hook_k} and rotary. Weight processing leaves these weights in place:
     * rotary mixes dimensions, so no projection can absorb them.
     */
    public enum QkNorm {
        NONE,
        /** Each head's query and key over d_head, one weight [d_head] shared by the heads (Qwen 3, Gemma 3). */
        PER_HEAD,
        /** All heads' queries (keys) together over heads * d_head, weights [heads * d_head] (OLMo 2). */
        ALL_HEADS
    }

    public enum Positional {
        LEARNED,
        ROTARY,
        NONE
    }

    public enum Activation {
        /** GPT-2's tanh approximation of GELU. */
        GELU_NEW(false),
        /** exact GELU, x * Phi(x) */
        GELU(false),
        RELU(false),
        /** SwiGLU: silu(x W_gate) * (x W_in) */
        SILU_GATED(true),
        /** GeGLU: gelu_new(x W_gate) * (x W_in) */
        GELU_GATED(true);

        private final boolean gated;

        Activation(boolean gated) {
            this.gated = gated;
        }

        public boolean gated() {
            return gated;
        }
    }

    /** Which projections carry a bias. */
    public record Biases(boolean qkv, boolean attnOut, boolean mlpIn, boolean mlpOut, boolean unembed) {
        public static Biases all() {
            return new Biases(true, true, true, true, true);
        }

        public static Biases none() {
            return new Biases(false, false, false, false, false);
        }
    }

    /**
     * Llama 3's "NTK-by-parts" rescaling of the rotary frequencies (Hugging Face {@code rope_type
     * "llama3"}): with wavelength {@code 2 pi / f}, frequencies whose wavelength is below
     * {@code originalContextLength / highFreqFactor} stay, those above
     * {@code originalContextLength / lowFreqFactor} are divided by {@code factor}, and the ones
     * between are interpolated.
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalContextLength) {
        public RopeScaling {
            if (!(factor > 0) || Double.isInfinite(factor))
                throw new LoupeException("model config: rope_scaling factor must be > 0, got " + factor);
            if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || Double.isInfinite(highFreqFactor))
                throw new LoupeException("model config: rope_scaling needs 0 < low_freq_factor < high_freq_factor, got "
                        + lowFreqFactor + " and " + highFreqFactor);
            if (originalContextLength <= 0)
                throw new LoupeException(
                        "model config: rope_scaling original_context_length must be > 0, got " + originalContextLength);
        }
    }

    /** A builder with every default. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's every value (derived ones such as attnScale included). */
    public Builder toBuilder() {
        return new Builder().from(this);
    }

    /**
     * The generated builder, under this name: one setter per field, {@code from(config)} to copy,
     * {@link #build()}.
     */
    public static class Builder extends ImmutableModelConfig.Builder {
        public Builder localAttnLayers(int... layers) {
            return localAttnLayers(java.util.Arrays.stream(layers).boxed().toList());
        }
    }

    /**
     * An attention-only model's MLP width is 0, and a non-rotary model's rotary_dim 0, whatever a
     * copy carried over; then every field is checked.
     */
    @Value.Check
    protected ModelConfig normalized() {
        boolean rotary = positional() == Positional.ROTARY;
        if ((attnOnly() && dMlp() != 0) || (!rotary && rotaryDim() != 0))
            return toBuilder()
                    .dMlp(attnOnly() ? 0 : dMlp())
                    .rotaryDim(rotary ? rotaryDim() : 0)
                    .build();
        validate();
        return this;
    }

    private void validate() {
        positive("d_model", dModel());
        positive("n_layers", nLayers());
        positive("n_heads", nHeads());
        positive("n_kv_heads", nKvHeads());
        positive("d_head", dHead());
        positive("d_vocab", dVocab());
        positive("n_ctx", nCtx());
        if (!attnOnly()) positive("d_mlp", dMlp());
        if (nHeads() % nKvHeads() != 0)
            throw new LoupeException(
                    "model config: n_heads (" + nHeads() + ") must be a multiple of n_kv_heads (" + nKvHeads() + ")");
        if (positional() == Positional.ROTARY) {
            if (rotaryDim() <= 0 || rotaryDim() > dHead() || rotaryDim() % 2 != 0)
                throw new LoupeException(
                        "model config: rotary_dim must be even and in 1.." + dHead() + ", got " + rotaryDim());
            if (!(rotaryBase() > 0))
                throw new LoupeException("model config: rotary_base must be > 0, got " + rotaryBase());
        }
        if (normalization() != Normalization.NONE && !(normEps() >= 0))
            throw new LoupeException("model config: eps must be >= 0, got " + normEps());
        if (!dtype().equals("float32") && !dtype().equals("float64"))
            throw new LoupeException("model config: dtype must be float32 or float64, got '" + dtype() + "'");
        if (attnOnly() && parallelAttnMlp())
            throw new LoupeException("model config: an attention-only model cannot have parallel attention and MLP");
        if (useNormalizationBeforeAndAfter()
                && normalization() != Normalization.RMS_NORM
                && normalization() != Normalization.RMS_NORM_PRE)
            throw new LoupeException("model config: norms after each sublayer (use_normalization_before_and_after) "
                    + "need RMS_NORM or RMS_NORM_PRE, got " + normalization());
        if (useNormalizationAfterOnly() && (useNormalizationBeforeAndAfter() || normalization() == Normalization.NONE))
            throw new LoupeException("model config: norms after the sublayers only (use_normalization_after_only) "
                    + "need a normalization and exclude use_normalization_before_and_after");
        if (useNormalizationAfterOnly() && parallelAttnMlp())
            throw new LoupeException(
                    "model config: norms after the sublayers only (use_normalization_after_only) need sequential blocks");
        if (positional() == Positional.ROTARY && !(rotaryBaseLocal() > 0))
            throw new LoupeException("model config: rotary_base_local must be > 0, got " + rotaryBaseLocal());
        if (ropeScaling() != null && positional() != Positional.ROTARY)
            throw new LoupeException("model config: rope_scaling needs rotary positions, got " + positional());
        finitePositive("embed_scale", embedScale());
        finitePositive("attn_scale", attnScale());
        if (!(attnScoresSoftCap() >= 0) || Double.isInfinite(attnScoresSoftCap()))
            throw new LoupeException(
                    "model config: attn_scores_soft_cap must be >= 0 (0 = off), got " + attnScoresSoftCap());
        if (!(outputLogitsSoftCap() >= 0) || Double.isInfinite(outputLogitsSoftCap()))
            throw new LoupeException(
                    "model config: output_logits_soft_cap must be >= 0 (0 = off), got " + outputLogitsSoftCap());
        int window = windowSize();
        List<Integer> local = localAttnLayers();
        if (window < 0) throw new LoupeException("model config: window_size must be >= 0, got " + window);
        if (window > 0 && local.isEmpty())
            throw new LoupeException(
                    "model config: window_size is " + window + " but no layer is local (local_attn_layers is empty)");
        if (window == 0 && !local.isEmpty())
            throw new LoupeException("model config: local_attn_layers " + local + " need window_size > 0");
        for (int i = 0; i < local.size(); i++) {
            int l = local.get(i);
            if (l < 0 || l >= nLayers() || (i > 0 && l <= local.get(i - 1)))
                throw new LoupeException("model config: local_attn_layers must be increasing layer indices in 0.."
                        + (nLayers() - 1) + ", got " + local);
        }
    }

    private static void finitePositive(String name, double value) {
        if (!(value > 0) || Double.isInfinite(value))
            throw new LoupeException("model config: " + name + " must be a finite number > 0, got " + value);
    }

    private static void positive(String name, int value) {
        if (value <= 0) throw new LoupeException("model config: " + name + " must be > 0, got " + value);
    }

    public int nKvGroups() {
        return nHeads() / nKvHeads();
    }

    /** Whether layer {@code layer} uses local (sliding window) attention. */
    public boolean isLocalAttn(int layer) {
        return localAttnLayers().contains(layer);
    }

    /** Number of parameters, counting tied embeddings once. */
    public long parameterCount() {
        long d = dModel(), qDim = (long) nHeads() * dHead(), kvDim = (long) nKvHeads() * dHead();
        Normalization n = normalization();
        long norm = n == Normalization.LAYER_NORM ? 2 * d : n == Normalization.RMS_NORM ? d : 0;
        Biases b = biases();
        long attn = d * qDim + 2 * d * kvDim + qDim * d + (b.qkv() ? qDim + 2 * kvDim : 0) + (b.attnOut() ? d : 0);
        long mlp = attnOnly()
                ? 0
                : (activation().gated() ? 3 : 2) * d * dMlp() + (b.mlpIn() ? dMlp() : 0) + (b.mlpOut() ? d : 0);
        long postNorms = useNormalizationBeforeAndAfter() ? d : 0;
        long qkNorms =
                switch (qkNorm()) {
                    case NONE -> 0;
                    case PER_HEAD -> 2L * dHead();
                    case ALL_HEADS -> qDim + kvDim;
                };
        long perLayer = attn + qkNorms + mlp + (norm + postNorms) * (attnOnly() ? 1 : 2);
        long embed = (long) dVocab() * d + (positional() == Positional.LEARNED ? (long) nCtx() * d : 0);
        long unembed = (tiedEmbeddings() ? 0 : d * dVocab()) + (b.unembed() ? dVocab() : 0);
        return embed + nLayers() * perLayer + norm + unembed;
    }

    /** GPT-2 small's shape (124M parameters), as TransformerLens loads it. */
    public static ModelConfig gpt2Small() {
        return builder()
                .dModel(768)
                .nLayers(12)
                .nHeads(12)
                .dHead(64)
                .dMlp(3072)
                .dVocab(50257)
                .nCtx(1024)
                .normalization(Normalization.LAYER_NORM)
                .normEps(1e-5)
                .positional(Positional.LEARNED)
                .activation(Activation.GELU_NEW)
                .biases(Biases.all())
                .build();
    }
}
