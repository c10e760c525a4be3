package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@code model_type "gpt_neox"} (Pythia, GPT-NeoX-20B). The fused {@code query_key_value} projection
 * is interleaved per head: its output is [heads, 3, head_size] ({@code GPTNeoXAttention} views it so
 * and takes q, k, v as thirds of each head's slice), not [3, heads, head_size]. Rotary embedding
 * covers the first {@code int(head_size * rotary_pct)} dims of each head (rotate-half, as Loupe;
 * transformers 5 writes the fraction as {@code rope_parameters.partial_rotary_factor}).
 * {@code use_parallel_residual} (default true) runs attention and MLP on the same residual.
 */
final class GptNeoXFamily implements HfFamily {
    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        if (d % heads != 0)
            throw c.invalid("hidden_size", "(" + d + ") must be a multiple of num_attention_heads (" + heads + ")");
        int headSize = d / heads;
        // transformers 4.x: rotary_pct and rotary_emb_base; 5: rope_parameters.partial_rotary_factor and rope_theta
        HfCommon.Rope rope = HfCommon.rope(
                c,
                null,
                new HfCommon.RopeKeys(
                        c.has("rotary_emb_base") ? "rotary_emb_base" : "rope_theta",
                        c.has("rotary_pct") ? "rotary_pct" : "partial_rotary_factor",
                        true),
                10000,
                0.25);
        if (rope.scaling() != null) throw c.invalid("rope_scaling", "is not supported for gpt_neox");
        boolean bias = c.optionalBool("attention_bias", true);
        return ModelConfig.builder()
                .dModel(d)
                .nLayers(c.layerCount("num_hidden_layers"))
                .nHeads(heads)
                .dHead(headSize)
                .dMlp(c.positiveInt("intermediate_size"))
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.positiveInt("max_position_embeddings"))
                .normalization(Normalization.LAYER_NORM)
                .normEps(c.optionalEps("layer_norm_eps", 1e-5))
                .positional(Positional.ROTARY)
                .rotaryDim(HfCommon.rotaryDim(c, headSize, rope))
                .rotaryBase(rope.theta())
                .activation(HfCommon.activation(c, "hidden_act", "gelu", false))
                .parallelAttnMlp(c.optionalBool("use_parallel_residual", true))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", false))
                .biases(new Biases(bias, bias, true, true, false))
                .build();
    }

    @Override
    public void readWeights(ModelConfig cfg, HfConfig c, HfWeights w) {
        String p = w.prefix("embed_in.weight", "gpt_neox.");
        long d = cfg.dModel(), m = cfg.dMlp(), H = cfg.nHeads(), hs = cfg.dHead();
        w.copy(p + "embed_in.weight", "embed.W_E", cfg.dVocab(), d);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String h = p + "layers." + l + ".", b = "blocks." + l + ".";
            w.copy(h + "input_layernorm.weight", b + "ln1.w", d);
            w.copy(h + "input_layernorm.bias", b + "ln1.b", d);
            w.copy(h + "post_attention_layernorm.weight", b + "ln2.w", d);
            w.copy(h + "post_attention_layernorm.bias", b + "ln2.b", d);
            // nn.Linear weight [3 * H * hs, d], output rows ordered (head, q|k|v, i).
            INDArray storedW = w.read(h + "attention.query_key_value.weight", 3 * H * hs, d);
            INDArray storedB = cfg.biases().qkv() ? w.read(h + "attention.query_key_value.bias", 3 * H * hs) : null;
            INDArray qkv = storedW.reshape('c', H, 3, hs, d);
            INDArray qkvBias = storedB == null ? null : storedB.reshape('c', H, 3, hs);
            String[] parts = {"Q", "K", "V"};
            for (int i = 0; i < 3; i++) {
                INDArray rows = qkv.get(
                                NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all())
                        .dup('c')
                        .reshape('c', H * hs, d); // [H * hs, d]
                w.put(b + "attn.W_" + parts[i], HfWeights.transposed(rows)); // [d, H * hs]
                if (qkvBias != null)
                    w.put(
                            b + "attn.b_" + parts[i],
                            qkvBias.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all())
                                    .dup('c')
                                    .reshape(new long[] {H * hs}));
            }
            HfWeights.free(storedW);
            if (storedB != null) HfWeights.free(storedB);
            w.linear(h + "attention.dense.weight", b + "attn.W_O", d, H * hs);
            if (cfg.biases().attnOut()) w.copy(h + "attention.dense.bias", b + "attn.b_O", d);
            w.linear(h + "mlp.dense_h_to_4h.weight", b + "mlp.W_in", m, d);
            w.copy(h + "mlp.dense_h_to_4h.bias", b + "mlp.b_in", m);
            w.linear(h + "mlp.dense_4h_to_h.weight", b + "mlp.W_out", d, m);
            w.copy(h + "mlp.dense_4h_to_h.bias", b + "mlp.b_out", d);
        }
        w.copy(p + "final_layer_norm.weight", "ln_final.w", d);
        w.copy(p + "final_layer_norm.bias", "ln_final.b", d);
        w.unembedAndCheckAllUsed(cfg, "embed_out.weight");
    }
}
