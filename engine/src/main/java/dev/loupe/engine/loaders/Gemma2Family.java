package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code model_type "gemma2"}. Its quirks and where they land in Loupe:
 * <ul>
 *   <li>every RMSNorm scales by {@code (1 + weight)}: the loader stores {@code weight + 1} as the
 *       norm's {@code .w}, so the forward pass and its hooks are plain RMSNorm;</li>
 *   <li>the embedding is multiplied by sqrt(hidden_size) ({@code embedScale}; {@code hook_embed} holds
 *       the scaled embedding, as in TransformerLens; {@code W_E} stays the unscaled table the tied
 *       unembedding uses);</li>
 *   <li>norms after attention and MLP: {@code post_attention_layernorm} is {@code ln1_post},
 *       {@code pre_feedforward_layernorm} is {@code ln2}, {@code post_feedforward_layernorm} is
 *       {@code ln2_post} (in Llama, {@code post_attention_layernorm} is the pre-MLP norm);</li>
 *   <li>scores scaled by {@code query_pre_attn_scalar^-0.5} and soft-capped by
 *       {@code attn_logit_softcapping}; logits soft-capped by {@code final_logit_softcapping};</li>
 *   <li>local attention ({@code sliding_window}) on even layers 0, 2, ... ({@code Gemma2DecoderLayer}:
 *       {@code is_sliding = not bool(layer_idx % 2)}), or as {@code layer_types} says;</li>
 *   <li>GeGLU with the tanh GELU ({@code gelu_pytorch_tanh}).</li>
 * </ul>
 */
final class Gemma2Family implements HfFamily {
    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        int layers = c.layerCount("num_hidden_layers"), kvHeads = c.positiveInt("num_key_value_heads");
        if (heads % kvHeads != 0)
            throw c.invalid(
                    "num_attention_heads",
                    "(" + heads + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        double queryScalar = c.optionalDouble("query_pre_attn_scalar", 256);
        if (!(queryScalar > 0)) throw c.invalid("query_pre_attn_scalar", "must be > 0, found " + queryScalar);
        String actKey = c.has("hidden_activation") ? "hidden_activation" : "hidden_act";
        boolean bias = c.optionalBool("attention_bias", false);
        ModelConfig.Builder b = ModelConfig.builder()
                .dModel(d)
                .nLayers(layers)
                .nHeads(heads)
                .nKvHeads(kvHeads)
                .dHead(c.positiveInt("head_dim"))
                .dMlp(c.positiveInt("intermediate_size"))
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.optionalInt("max_position_embeddings", 8192))
                .normalization(Normalization.RMS_NORM)
                .normEps(c.optionalEps("rms_norm_eps", 1e-6))
                .useNormalizationBeforeAndAfter(true)
                .positional(Positional.ROTARY)
                .rotaryBase(HfCommon.ropeTheta(c, "rope_theta", 10000))
                .activation(HfCommon.activation(c, actKey, "gelu_pytorch_tanh", true))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", true))
                .biases(new Biases(bias, bias, false, false, false))
                .embedScale(Math.sqrt(d))
                .attnScale(Math.sqrt(queryScalar))
                .attnScoresSoftCap(HfCommon.softCap(c, "attn_logit_softcapping", 50))
                .outputLogitsSoftCap(HfCommon.softCap(c, "final_logit_softcapping", 30));
        if (HfCommon.ropeScaling(c) != null) throw c.invalid("rope_scaling", "is not supported for gemma2");
        Integer window = HfCommon.slidingWindow(c, 4096);
        HfCommon.applyWindow(b, c, layers, window, l -> l % 2 == 0);
        return b.build();
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
            norm(w, h + "post_attention_layernorm.weight", b + "ln1_post.w", d);
            norm(w, h + "pre_feedforward_layernorm.weight", b + "ln2.w", d);
            LlamaFamily.readMlp(cfg, w, h, b);
            norm(w, h + "post_feedforward_layernorm.weight", b + "ln2_post.w", d);
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
