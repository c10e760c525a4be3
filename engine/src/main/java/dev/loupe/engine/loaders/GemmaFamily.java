package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.ModelConfig.QkNorm;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code model_type "gemma"}, {@code "gemma2"} and {@code "gemma3_text"}. Their quirks and where they
 * land in Loupe:
 * <ul>
 *   <li>every RMSNorm scales by {@code (1 + weight)}: the loader stores {@code weight + 1} as the
 *       norm's {@code .w} (as TransformerLens does), so the forward pass and its hooks are plain RMSNorm;</li>
 *   <li>the embedding is multiplied by sqrt(hidden_size) ({@code embedScale}; {@code hook_embed} holds
 *       the scaled embedding, as in TransformerLens; {@code W_E} stays the unscaled table the tied
 *       unembedding uses);</li>
 *   <li>GeGLU with the tanh GELU ({@code gelu_pytorch_tanh}; Gemma 1's legacy {@code "gelu"} means it too);</li>
 *   <li>Gemma 2 and 3: norms after attention and MLP: {@code post_attention_layernorm} is
 *       {@code ln1_post}, {@code pre_feedforward_layernorm} is {@code ln2},
 *       {@code post_feedforward_layernorm} is {@code ln2_post} (in Llama, {@code post_attention_layernorm}
 *       is the pre-MLP norm); scores scaled by {@code query_pre_attn_scalar^-0.5}; local (sliding
 *       window) layers as {@code layer_types} says, else every other layer from 0 (Gemma 2:
 *       {@code is_sliding = not bool(layer_idx % 2)}) or all but every {@code sliding_window_pattern}-th
 *       (Gemma 3: pattern 6);</li>
 *   <li>Gemma 2: scores soft-capped by {@code attn_logit_softcapping}, logits by
 *       {@code final_logit_softcapping};</li>
 *   <li>Gemma 3: an RMSNorm of each head's query and key ({@code self_attn.q_norm}/{@code k_norm}, also
 *       {@code 1 + weight}) before rotary, and local layers with their own rotary base
 *       ({@code rope_parameters.sliding_attention.rope_theta}, 4.x {@code rope_local_base_freq});
 *       soft-caps only when the config sets them.</li>
 * </ul>
 */
final class GemmaFamily implements HfFamily {
    enum Variant {
        GEMMA,
        GEMMA2,
        GEMMA3
    }

    private final Variant variant;

    GemmaFamily(Variant variant) {
        this.variant = variant;
    }

    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        int layers = c.layerCount("num_hidden_layers");
        // Required: transformers' defaults for these (e.g. head_dim 256) are one checkpoint's sizes, not derivable.
        c.positiveInt("num_key_value_heads");
        int kvHeads = HfCommon.kvHeads(c, heads), headDim = c.positiveInt("head_dim");
        if (c.optionalBool("use_bidirectional_attention", false))
            throw c.invalid(
                    "use_bidirectional_attention", "is true; Loupe computes causal (left-to-right) attention only");
        boolean bias = c.optionalBool("attention_bias", false);
        ModelConfig.Builder b = ModelConfig.builder()
                .dModel(d)
                .nLayers(layers)
                .nHeads(heads)
                .nKvHeads(kvHeads)
                .dHead(headDim)
                .dMlp(c.positiveInt("intermediate_size"))
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.optionalInt("max_position_embeddings", 8192))
                .normalization(Normalization.RMS_NORM)
                .normEps(c.optionalEps("rms_norm_eps", 1e-6))
                .positional(Positional.ROTARY)
                .activation(activation(c))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", true))
                .biases(new Biases(bias, bias, false, false, false))
                .embedScale(Math.sqrt(d));
        if (variant == Variant.GEMMA3) {
            HfCommon.Rope global = HfCommon.rope(c, "full_attention", HfCommon.RopeKeys.STANDARD, 1_000_000, 1.0);
            HfCommon.Rope local = HfCommon.rope(
                    c,
                    "sliding_attention",
                    new HfCommon.RopeKeys("rope_local_base_freq", "partial_rotary_factor", false),
                    10_000,
                    1.0);
            if (global.scaling() != null || local.scaling() != null)
                throw c.invalid(
                        "rope_parameters",
                        "scales the rotary frequencies, which Loupe does not support for gemma3_text");
            if (global.partialFactor() != local.partialFactor())
                throw c.invalid(
                        "rope_parameters", "rotates different fractions of each head in local and global layers");
            b.rotaryDim(HfCommon.rotaryDim(c, headDim, global))
                    .rotaryBase(global.theta())
                    .rotaryBaseLocal(local.theta())
                    .qkNorm(QkNorm.PER_HEAD);
        } else {
            HfCommon.Rope rope = HfCommon.rope(c, null, HfCommon.RopeKeys.STANDARD, 10_000, 1.0);
            if (rope.scaling() != null) throw c.invalid("rope_scaling", "is not supported for " + c.modelType());
            b.rotaryDim(HfCommon.rotaryDim(c, headDim, rope)).rotaryBase(rope.theta());
        }
        if (variant == Variant.GEMMA) return b.build(); // every layer global, scores / sqrt(head_dim)
        double queryScalar = c.optionalDouble("query_pre_attn_scalar", 256);
        if (!(queryScalar > 0)) throw c.invalid("query_pre_attn_scalar", "must be > 0, found " + queryScalar);
        boolean gemma2 = variant == Variant.GEMMA2;
        b.useNormalizationBeforeAndAfter(true)
                .attnScale(Math.sqrt(queryScalar))
                .attnScoresSoftCap(HfCommon.softCap(c, "attn_logit_softcapping", gemma2 ? 50 : 0))
                .outputLogitsSoftCap(HfCommon.softCap(c, "final_logit_softcapping", gemma2 ? 30 : 0));
        Integer window = HfCommon.slidingWindow(c, 4096);
        int pattern = gemma2 ? 2 : c.optionalInt("sliding_window_pattern", c.optionalInt("_sliding_window_pattern", 6));
        if (pattern < 1) throw c.invalid("sliding_window_pattern", "must be >= 1, found " + pattern);
        HfCommon.applyWindow(b, c, layers, window, gemma2 ? l -> l % 2 == 0 : l -> (l + 1) % pattern != 0);
        return b.build();
    }

    /** {@code hidden_activation} (Gemma 2, 3) or {@code hidden_act}; Gemma's legacy {@code "gelu"} is the tanh GELU, as transformers reads it. */
    private static ModelConfig.Activation activation(HfConfig c) {
        String key = c.has("hidden_activation") ? "hidden_activation" : "hidden_act";
        if ("gelu".equals(c.optionalString(key, null))) return ModelConfig.Activation.GELU_GATED;
        return HfCommon.activation(c, key, "gelu_pytorch_tanh", true);
    }

    @Override
    public void readWeights(ModelConfig cfg, HfConfig c, HfWeights w) {
        String p = w.prefix("embed_tokens.weight", "model.");
        long d = cfg.dModel();
        w.copy(p + "embed_tokens.weight", "embed.W_E", cfg.dVocab(), d);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String h = p + "layers." + l + ".", b = "blocks." + l + ".";
            norm(w, h + "input_layernorm.weight", b + "ln1.w", d);
            LlamaFamily.readAttention(cfg, w, h, b);
            if (cfg.qkNorm() != QkNorm.NONE) {
                norm(w, h + "self_attn.q_norm.weight", b + "attn.q_norm.w", cfg.dHead());
                norm(w, h + "self_attn.k_norm.weight", b + "attn.k_norm.w", cfg.dHead());
            }
            if (variant == Variant.GEMMA) {
                norm(w, h + "post_attention_layernorm.weight", b + "ln2.w", d); // Llama's naming
            } else {
                norm(w, h + "post_attention_layernorm.weight", b + "ln1_post.w", d);
                norm(w, h + "pre_feedforward_layernorm.weight", b + "ln2.w", d);
            }
            LlamaFamily.readMlp(cfg, w, h, b);
            if (variant != Variant.GEMMA) norm(w, h + "post_feedforward_layernorm.weight", b + "ln2_post.w", d);
        }
        norm(w, p + "norm.weight", "ln_final.w", d);
        w.unembedAndCheckAllUsed(cfg, "lm_head.weight");
    }

    /** Gemma's RMSNorm multiplies by (1 + weight): store the sum, so Loupe's norm is the usual x / rms * w. */
    private static void norm(HfWeights w, String name, String loupeName, long d) {
        INDArray a = w.copy(name, loupeName, d);
        a.addi(1);
    }
}
