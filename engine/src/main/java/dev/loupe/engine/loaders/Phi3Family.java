package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@code model_type "phi3"} (Phi-3, Phi-3.5, Phi-4 mini): a Llama-like block whose projections are
 * fused. {@code self_attn.qkv_proj} is [q | k | v] along its output (q: heads * head_dim rows, then
 * k and v: kv_heads * head_dim each); {@code mlp.gate_up_proj} is [gate | up] (Hugging Face's
 * {@code Phi3MLP} chunks it in two and multiplies {@code up} by {@code act(gate)}), so they split into
 * W_Q, W_K, W_V and W_gate, W_in. head_dim is hidden_size / num_attention_heads; rotary covers
 * {@code partial_rotary_factor} of each head; {@code sliding_window}, when set, applies to every layer.
 * Rope types other than "default" (Phi-3's long-context "longrope") are refused.
 */
final class Phi3Family implements HfFamily {
    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        if (d % heads != 0)
            throw c.invalid("hidden_size", "(" + d + ") must be a multiple of num_attention_heads (" + heads + ")");
        int headDim = d / heads, layers = c.layerCount("num_hidden_layers");
        HfCommon.Rope rope = HfCommon.rope(c, null, HfCommon.RopeKeys.STANDARD, 10000, 1.0);
        ModelConfig.Builder b = ModelConfig.builder()
                .dModel(d)
                .nLayers(layers)
                .nHeads(heads)
                .nKvHeads(HfCommon.kvHeads(c, heads))
                .dHead(headDim)
                .dMlp(c.positiveInt("intermediate_size"))
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.positiveInt("max_position_embeddings"))
                .normalization(Normalization.RMS_NORM)
                .normEps(c.optionalEps("rms_norm_eps", 1e-5))
                .positional(Positional.ROTARY)
                .rotaryDim(HfCommon.rotaryDim(c, headDim, rope))
                .rotaryBase(rope.theta())
                .ropeScaling(rope.scaling())
                .activation(HfCommon.activation(c, "hidden_act", "silu", true))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", false))
                .biases(Biases.none());
        HfCommon.applyWindow(b, c, layers, HfCommon.slidingWindow(c, null), l -> true);
        return b.build();
    }

    @Override
    public void readWeights(ModelConfig cfg, HfConfig c, HfWeights w) {
        String p = w.prefix("embed_tokens.weight", "model.");
        long d = cfg.dModel(), m = cfg.dMlp();
        long q = (long) cfg.nHeads() * cfg.dHead(), kv = (long) cfg.nKvHeads() * cfg.dHead();
        w.copy(p + "embed_tokens.weight", "embed.W_E", cfg.dVocab(), d);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String h = p + "layers." + l + ".", b = "blocks." + l + ".";
            w.copy(h + "input_layernorm.weight", b + "ln1.w", d);
            INDArray qkv = w.read(h + "self_attn.qkv_proj.weight", q + 2 * kv, d); // [q | k | v] rows
            w.put(b + "attn.W_Q", rowsTransposed(qkv, 0, q));
            w.put(b + "attn.W_K", rowsTransposed(qkv, q, q + kv));
            w.put(b + "attn.W_V", rowsTransposed(qkv, q + kv, q + 2 * kv));
            HfWeights.free(qkv);
            w.linear(h + "self_attn.o_proj.weight", b + "attn.W_O", d, q);
            w.copy(h + "post_attention_layernorm.weight", b + "ln2.w", d);
            INDArray gateUp = w.read(h + "mlp.gate_up_proj.weight", 2 * m, d); // [gate | up] rows
            w.put(b + "mlp.W_gate", rowsTransposed(gateUp, 0, m));
            w.put(b + "mlp.W_in", rowsTransposed(gateUp, m, 2 * m));
            HfWeights.free(gateUp);
            w.linear(h + "mlp.down_proj.weight", b + "mlp.W_out", d, m);
        }
        w.copy(p + "norm.weight", "ln_final.w", d);
        w.unembedAndCheckAllUsed(cfg, "lm_head.weight");
    }

    /** Rows [from, to) of an nn.Linear weight [out, in], as Loupe's [in, to - from] (a c-ordered copy). */
    private static INDArray rowsTransposed(INDArray linear, long from, long to) {
        return linear.get(NDArrayIndex.interval(from, to), NDArrayIndex.all())
                .transpose()
                .dup('c');
    }
}
