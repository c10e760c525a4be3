package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import java.util.List;

/**
 * Everything that defines a Transformer's architecture. Immutable; build one with {@link #builder()}
 * and derive variants with {@link #toBuilder()}. Field names follow TransformerLens's
 * {@code HookedTransformerConfig} where it has one.
 *
 * @param dModel         residual stream width
 * @param nLayers        number of blocks
 * @param nHeads         query heads per layer
 * @param nKvHeads       key/value heads per layer ({@code < nHeads} means grouped-query attention)
 * @param dHead          width of one head
 * @param dMlp           hidden width of the MLP (ignored when {@code attnOnly})
 * @param dVocab         vocabulary size
 * @param nCtx           maximum sequence length
 * @param normalization  normalisation before attention, MLP and unembedding
 * @param normEps        epsilon added to the variance / mean square
 * @param useNormalizationBeforeAndAfter Gemma 2's extra RMSNorms on each sublayer's output, before it
 *                       is added to the residual stream ({@code ln1_post}, {@code ln2_post}); they always
 *                       carry a weight (nothing can absorb it) and need RMS_NORM or RMS_NORM_PRE
 * @param positional     how position enters the model
 * @param rotaryDim      dimensions of each head that are rotated (rotary only; {@code <= dHead}, even)
 * @param rotaryBase     rotary theta
 * @param ropeScaling    Llama 3's rescaling of the rotary frequencies, or null for none
 * @param activation     MLP nonlinearity
 * @param attnOnly       blocks without an MLP
 * @param parallelAttnMlp attention and MLP read the same residual (GPT-J / GPT-NeoX)
 * @param tiedEmbeddings unembedding is the transpose of the embedding
 * @param biases         which projections carry a bias
 * @param embedScale     the token embedding is multiplied by this (Gemma: sqrt(d_model); 1 = off)
 * @param attnScale      attention scores are q.k divided by this (default sqrt(d_head); Gemma 2:
 *                       sqrt(query_pre_attn_scalar))
 * @param attnScoresSoftCap  scores become {@code c * tanh(scores / c)} before masking (0 = off)
 * @param outputLogitsSoftCap logits become {@code c * tanh(logits / c)} (0 = off)
 * @param windowSize     key positions a local ("sliding window") attention layer sees, the query's
 *                       own included: key s is visible from query t when {@code t - windowSize < s <= t}
 *                       (0 = no local layers)
 * @param localAttnLayers the layers that use local attention (sorted; empty = all global)
 * @param useAttnResult  keep the per-head output {@code attn.hook_result} (large: off by default)
 * @param dtype          "float32" or "float64" (float64 is for gradient checks)
 */
public record ModelConfig(
        int dModel,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int dHead,
        int dMlp,
        int dVocab,
        int nCtx,
        Normalization normalization,
        double normEps,
        boolean useNormalizationBeforeAndAfter,
        Positional positional,
        int rotaryDim,
        double rotaryBase,
        RopeScaling ropeScaling,
        Activation activation,
        boolean attnOnly,
        boolean parallelAttnMlp,
        boolean tiedEmbeddings,
        Biases biases,
        double embedScale,
        double attnScale,
        double attnScoresSoftCap,
        double outputLogitsSoftCap,
        int windowSize,
        List<Integer> localAttnLayers,
        boolean useAttnResult,
        String dtype) {

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

    public ModelConfig {
        if (normalization == null || positional == null || activation == null || biases == null || dtype == null)
            throw new LoupeException(
                    "model config: normalization, positional, activation, biases and dtype must all be set");
        if (localAttnLayers == null) localAttnLayers = List.of();
        if (localAttnLayers.stream().anyMatch(java.util.Objects::isNull))
            throw new LoupeException("model config: local_attn_layers must be layer indices, got " + localAttnLayers);
        localAttnLayers = List.copyOf(localAttnLayers);
        positive("d_model", dModel);
        positive("n_layers", nLayers);
        positive("n_heads", nHeads);
        positive("n_kv_heads", nKvHeads);
        positive("d_head", dHead);
        positive("d_vocab", dVocab);
        positive("n_ctx", nCtx);
        if (!attnOnly) positive("d_mlp", dMlp);
        if (nHeads % nKvHeads != 0)
            throw new LoupeException(
                    "model config: n_heads (" + nHeads + ") must be a multiple of n_kv_heads (" + nKvHeads + ")");
        if (positional == Positional.ROTARY) {
            if (rotaryDim <= 0 || rotaryDim > dHead || rotaryDim % 2 != 0)
                throw new LoupeException(
                        "model config: rotary_dim must be even and in 1.." + dHead + ", got " + rotaryDim);
            if (!(rotaryBase > 0)) throw new LoupeException("model config: rotary_base must be > 0, got " + rotaryBase);
        }
        if (normalization != Normalization.NONE && !(normEps >= 0))
            throw new LoupeException("model config: eps must be >= 0, got " + normEps);
        if (!dtype.equals("float32") && !dtype.equals("float64"))
            throw new LoupeException("model config: dtype must be float32 or float64, got '" + dtype + "'");
        if (attnOnly && parallelAttnMlp)
            throw new LoupeException("model config: an attention-only model cannot have parallel attention and MLP");
        if (useNormalizationBeforeAndAfter
                && normalization != Normalization.RMS_NORM
                && normalization != Normalization.RMS_NORM_PRE)
            throw new LoupeException("model config: norms after each sublayer (use_normalization_before_and_after) "
                    + "need RMS_NORM or RMS_NORM_PRE, got " + normalization);
        if (ropeScaling != null && positional != Positional.ROTARY)
            throw new LoupeException("model config: rope_scaling needs rotary positions, got " + positional);
        finitePositive("embed_scale", embedScale);
        finitePositive("attn_scale", attnScale);
        if (!(attnScoresSoftCap >= 0) || Double.isInfinite(attnScoresSoftCap))
            throw new LoupeException(
                    "model config: attn_scores_soft_cap must be >= 0 (0 = off), got " + attnScoresSoftCap);
        if (!(outputLogitsSoftCap >= 0) || Double.isInfinite(outputLogitsSoftCap))
            throw new LoupeException(
                    "model config: output_logits_soft_cap must be >= 0 (0 = off), got " + outputLogitsSoftCap);
        if (windowSize < 0) throw new LoupeException("model config: window_size must be >= 0, got " + windowSize);
        if (windowSize > 0 && localAttnLayers.isEmpty())
            throw new LoupeException("model config: window_size is " + windowSize
                    + " but no layer is local (local_attn_layers is empty)");
        if (windowSize == 0 && !localAttnLayers.isEmpty())
            throw new LoupeException("model config: local_attn_layers " + localAttnLayers + " need window_size > 0");
        for (int i = 0; i < localAttnLayers.size(); i++) {
            int l = localAttnLayers.get(i);
            if (l < 0 || l >= nLayers || (i > 0 && l <= localAttnLayers.get(i - 1)))
                throw new LoupeException("model config: local_attn_layers must be increasing layer indices in 0.."
                        + (nLayers - 1) + ", got " + localAttnLayers);
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
        return nHeads / nKvHeads;
    }

    /** Whether layer {@code layer} uses local (sliding window) attention. */
    public boolean isLocalAttn(int layer) {
        return localAttnLayers.contains(layer);
    }

    /** Number of parameters, counting tied embeddings once. */
    public long parameterCount() {
        long d = dModel, qDim = (long) nHeads * dHead, kvDim = (long) nKvHeads * dHead;
        long norm = normalization == Normalization.LAYER_NORM ? 2 * d : normalization == Normalization.RMS_NORM ? d : 0;
        long attn = d * qDim
                + 2 * d * kvDim
                + qDim * d
                + (biases.qkv() ? qDim + 2 * kvDim : 0)
                + (biases.attnOut() ? d : 0);
        long mlp = attnOnly
                ? 0
                : (activation.gated() ? 3 : 2) * d * dMlp + (biases.mlpIn() ? dMlp : 0) + (biases.mlpOut() ? d : 0);
        long postNorms = useNormalizationBeforeAndAfter ? d : 0;
        long perLayer = attn + mlp + (norm + postNorms) * (attnOnly ? 1 : 2);
        long embed = (long) dVocab * d + (positional == Positional.LEARNED ? (long) nCtx * d : 0);
        long unembed = (tiedEmbeddings ? 0 : d * dVocab) + (biases.unembed() ? dVocab : 0);
        return embed + nLayers * perLayer + norm + unembed;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder holding this config. An {@code attnScale} equal to the default sqrt(d_head) stays
     * "the default", so a builder that changes dHead also changes the scale.
     */
    public Builder toBuilder() {
        return new Builder()
                .dModel(dModel)
                .nLayers(nLayers)
                .nHeads(nHeads)
                .nKvHeads(nKvHeads)
                .dHead(dHead)
                .dMlp(dMlp)
                .dVocab(dVocab)
                .nCtx(nCtx)
                .normalization(normalization)
                .normEps(normEps)
                .useNormalizationBeforeAndAfter(useNormalizationBeforeAndAfter)
                .positional(positional)
                .rotaryDim(rotaryDim)
                .rotaryBase(rotaryBase)
                .ropeScaling(ropeScaling)
                .activation(activation)
                .attnOnly(attnOnly)
                .parallelAttnMlp(parallelAttnMlp)
                .tiedEmbeddings(tiedEmbeddings)
                .biases(biases)
                .embedScale(embedScale)
                .attnScale(attnScale == Math.sqrt(dHead) ? -1 : attnScale)
                .attnScoresSoftCap(attnScoresSoftCap)
                .outputLogitsSoftCap(outputLogitsSoftCap)
                .windowSize(windowSize)
                .localAttnLayers(localAttnLayers)
                .useAttnResult(useAttnResult)
                .dtype(dtype);
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

    /** Builder with TransformerLens-like defaults: LayerNorm, learned positions, GELU (tanh), all biases. */
    public static final class Builder {
        private int dModel, nLayers, nHeads, nKvHeads = -1, dHead = -1, dMlp = -1, dVocab, nCtx;
        private Normalization normalization = Normalization.LAYER_NORM;
        private double normEps = 1e-5;
        private Positional positional = Positional.LEARNED;
        private int rotaryDim = -1;
        private double rotaryBase = 10000;
        private Activation activation = Activation.GELU_NEW;
        private boolean attnOnly, parallelAttnMlp, tiedEmbeddings, useAttnResult, useNormalizationBeforeAndAfter;
        private Biases biases = Biases.all();
        private String dtype = "float32";
        private RopeScaling ropeScaling;
        private double embedScale = 1, attnScale = -1, attnScoresSoftCap, outputLogitsSoftCap;
        private int windowSize;
        private List<Integer> localAttnLayers = List.of();

        public Builder dModel(int v) {
            dModel = v;
            return this;
        }

        public Builder nLayers(int v) {
            nLayers = v;
            return this;
        }

        public Builder nHeads(int v) {
            nHeads = v;
            return this;
        }
        /** Defaults to nHeads (no grouped-query attention). */
        public Builder nKvHeads(int v) {
            nKvHeads = v;
            return this;
        }
        /** Defaults to dModel / nHeads. */
        public Builder dHead(int v) {
            dHead = v;
            return this;
        }
        /** Defaults to 4 * dModel. */
        public Builder dMlp(int v) {
            dMlp = v;
            return this;
        }

        public Builder dVocab(int v) {
            dVocab = v;
            return this;
        }

        public Builder nCtx(int v) {
            nCtx = v;
            return this;
        }

        public Builder normalization(Normalization v) {
            normalization = v;
            return this;
        }

        public Builder normEps(double v) {
            normEps = v;
            return this;
        }

        public Builder positional(Positional v) {
            positional = v;
            return this;
        }
        /** Defaults to dHead (full rotary). */
        public Builder rotaryDim(int v) {
            rotaryDim = v;
            return this;
        }

        public Builder rotaryBase(double v) {
            rotaryBase = v;
            return this;
        }

        public Builder activation(Activation v) {
            activation = v;
            return this;
        }

        public Builder attnOnly(boolean v) {
            attnOnly = v;
            return this;
        }

        public Builder parallelAttnMlp(boolean v) {
            parallelAttnMlp = v;
            return this;
        }

        public Builder tiedEmbeddings(boolean v) {
            tiedEmbeddings = v;
            return this;
        }

        public Builder biases(Biases v) {
            biases = v;
            return this;
        }

        public Builder useAttnResult(boolean v) {
            useAttnResult = v;
            return this;
        }

        public Builder dtype(String v) {
            dtype = v;
            return this;
        }

        public Builder useNormalizationBeforeAndAfter(boolean v) {
            useNormalizationBeforeAndAfter = v;
            return this;
        }
        /** Null for none. */
        public Builder ropeScaling(RopeScaling v) {
            ropeScaling = v;
            return this;
        }

        public Builder embedScale(double v) {
            embedScale = v;
            return this;
        }
        /** Defaults to sqrt(dHead); a value <= 0 also means the default. */
        public Builder attnScale(double v) {
            attnScale = v;
            return this;
        }

        public Builder attnScoresSoftCap(double v) {
            attnScoresSoftCap = v;
            return this;
        }

        public Builder outputLogitsSoftCap(double v) {
            outputLogitsSoftCap = v;
            return this;
        }

        public Builder windowSize(int v) {
            windowSize = v;
            return this;
        }

        public Builder localAttnLayers(List<Integer> v) {
            localAttnLayers = v;
            return this;
        }

        public Builder localAttnLayers(int... layers) {
            localAttnLayers = java.util.Arrays.stream(layers).boxed().toList();
            return this;
        }

        public ModelConfig build() {
            int heads = nHeads;
            int head = dHead > 0 ? dHead : (heads > 0 ? dModel / heads : 0);
            int rot = positional == Positional.ROTARY ? (rotaryDim > 0 ? rotaryDim : head) : 0;
            int mlp = attnOnly ? 0 : (dMlp > 0 ? dMlp : 4 * dModel);
            double scale = attnScale > 0 || Double.isNaN(attnScale) ? attnScale : Math.sqrt(head);
            return new ModelConfig(
                    dModel,
                    nLayers,
                    heads,
                    nKvHeads > 0 ? nKvHeads : heads,
                    head,
                    mlp,
                    dVocab,
                    nCtx,
                    normalization,
                    normEps,
                    useNormalizationBeforeAndAfter,
                    positional,
                    rot,
                    rotaryBase,
                    ropeScaling,
                    activation,
                    attnOnly,
                    parallelAttnMlp,
                    tiedEmbeddings,
                    biases,
                    embedScale,
                    scale,
                    attnScoresSoftCap,
                    outputLogitsSoftCap,
                    windowSize,
                    localAttnLayers,
                    useAttnResult,
                    dtype);
        }
    }
}
