package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@code model_type "gpt2"} ({@code GPT2LMHeadModel} / {@code GPT2Model}). GPT-2's {@code Conv1D}
 * stores weights as [in, out], which is already Loupe's x @ W layout; {@code c_attn} fuses
 * [q | k | v] along its output. The unembedding is tied to {@code wte} unless
 * {@code tie_word_embeddings} is false.
 */
final class Gpt2Family implements HfFamily {
    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("n_embd"), heads = c.positiveInt("n_head");
        if (d % heads != 0) throw c.invalid("n_embd", "(" + d + ") must be a multiple of n_head (" + heads + ")");
        if (c.optionalBool("scale_attn_by_inverse_layer_idx", false))
            throw c.invalid("scale_attn_by_inverse_layer_idx", "is true, which Loupe does not support");
        ModelConfig.Builder b = ModelConfig.builder()
                .dModel(d)
                .nLayers(c.layerCount("n_layer"))
                .nHeads(heads)
                .dHead(d / heads)
                .dMlp(c.has("n_inner") ? c.positiveInt("n_inner") : 4 * d)
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.positiveInt("n_positions"))
                .normalization(Normalization.LAYER_NORM)
                .normEps(c.optionalEps("layer_norm_epsilon", 1e-5))
                .positional(Positional.LEARNED)
                .activation(HfCommon.activation(c, "activation_function", "gelu_new", false))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", true))
                .biases(new Biases(true, true, true, true, false));
        if (!c.optionalBool("scale_attn_weights", true)) b.attnScale(1); // else the default, sqrt(d_head)
        return b.build();
    }

    @Override
    public void readWeights(ModelConfig cfg, HfConfig c, HfWeights w) {
        String p = w.prefix("wte.weight", "transformer.");
        long d = cfg.dModel(), m = cfg.dMlp();
        w.copy(p + "wte.weight", "embed.W_E", cfg.dVocab(), d);
        w.copy(p + "wpe.weight", "pos_embed.W_pos", cfg.nCtx(), d);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String h = p + "h." + l + ".", b = "blocks." + l + ".";
            w.copy(h + "ln_1.weight", b + "ln1.w", d);
            w.copy(h + "ln_1.bias", b + "ln1.b", d);
            INDArray qkv = w.read(h + "attn.c_attn.weight", d, 3 * d); // [d, 3d] = [W_Q | W_K | W_V]
            INDArray qkvBias = w.read(h + "attn.c_attn.bias", 3 * d);
            String[] parts = {"Q", "K", "V"};
            for (int i = 0; i < 3; i++) {
                w.put(
                        b + "attn.W_" + parts[i],
                        qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(i * d, (i + 1) * d))
                                .dup('c'));
                w.put(
                        b + "attn.b_" + parts[i],
                        qkvBias.get(NDArrayIndex.interval(i * d, (i + 1) * d)).dup('c'));
            }
            HfWeights.free(qkv);
            HfWeights.free(qkvBias);
            w.copy(h + "attn.c_proj.weight", b + "attn.W_O", d, d);
            w.copy(h + "attn.c_proj.bias", b + "attn.b_O", d);
            w.copy(h + "ln_2.weight", b + "ln2.w", d);
            w.copy(h + "ln_2.bias", b + "ln2.b", d);
            w.copy(h + "mlp.c_fc.weight", b + "mlp.W_in", d, m);
            w.copy(h + "mlp.c_fc.bias", b + "mlp.b_in", m);
            w.copy(h + "mlp.c_proj.weight", b + "mlp.W_out", m, d);
            w.copy(h + "mlp.c_proj.bias", b + "mlp.b_out", d);
        }
        w.copy(p + "ln_f.weight", "ln_final.w", d);
        w.copy(p + "ln_f.bias", "ln_final.b", d);
        w.unembedAndCheckAllUsed(cfg, "lm_head.weight");
    }
}
