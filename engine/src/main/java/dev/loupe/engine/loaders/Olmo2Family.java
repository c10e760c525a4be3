package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.ModelConfig.QkNorm;

/**
 * {@code model_type "olmo2"}: a Llama-like block with its norms moved after the sublayers
 * ({@code hidden = residual + post_attention_layernorm(attn(hidden))}, likewise
 * {@code post_feedforward_layernorm} after the MLP; no norm before either), and an RMSNorm of the
 * queries and keys over all heads together ({@code self_attn.q_norm} [heads * head_dim],
 * {@code k_norm} [kv_heads * head_dim]) before they are split into heads and rotated. As
 * TransformerLens maps it, the post-norms are {@code ln1} and {@code ln2}
 * ({@code useNormalizationAfterOnly}), hooked after {@code hook_attn_out} / {@code hook_mlp_out}.
 */
final class Olmo2Family implements HfFamily {
    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        int headDim = HfCommon.headDim(c, "head_dim", "hidden_size", d, "num_attention_heads", heads);
        HfCommon.Rope rope = HfCommon.rope(c, null, HfCommon.RopeKeys.STANDARD, 10000, 1.0);
        boolean bias = c.optionalBool("attention_bias", false);
        return ModelConfig.builder()
                .dModel(d)
                .nLayers(c.layerCount("num_hidden_layers"))
                .nHeads(heads)
                .nKvHeads(HfCommon.kvHeads(c, heads))
                .dHead(headDim)
                .dMlp(c.positiveInt("intermediate_size"))
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.positiveInt("max_position_embeddings"))
                .normalization(Normalization.RMS_NORM)
                .normEps(c.optionalEps("rms_norm_eps", 1e-5))
                .useNormalizationAfterOnly(true)
                .positional(Positional.ROTARY)
                .rotaryDim(HfCommon.rotaryDim(c, headDim, rope))
                .rotaryBase(rope.theta())
                .ropeScaling(rope.scaling())
                .qkNorm(QkNorm.ALL_HEADS)
                .activation(HfCommon.activation(c, "hidden_act", "silu", true))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", false))
                .biases(new Biases(bias, bias, false, false, false))
                .build();
    }

    @Override
    public void readWeights(ModelConfig cfg, HfConfig c, HfWeights w) {
        String p = w.prefix("embed_tokens.weight", "model.");
        long d = cfg.dModel();
        w.copy(p + "embed_tokens.weight", "embed.W_E", cfg.dVocab(), d);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String h = p + "layers." + l + ".", b = "blocks." + l + ".";
            LlamaFamily.readAttention(cfg, w, h, b);
            LlamaFamily.readQkNorms(cfg, w, h, b);
            w.copy(h + "post_attention_layernorm.weight", b + "ln1.w", d);
            LlamaFamily.readMlp(cfg, w, h, b);
            w.copy(h + "post_feedforward_layernorm.weight", b + "ln2.w", d);
        }
        w.copy(p + "norm.weight", "ln_final.w", d);
        w.unembedAndCheckAllUsed(cfg, "lm_head.weight");
    }
}
