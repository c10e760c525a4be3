package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;

/**
 * {@code model_type "llama"}, {@code "mistral"} and {@code "qwen2"}: pre-RMSNorm blocks, rotary,
 * grouped-query attention, SwiGLU ({@code gate_proj} = W_gate, {@code up_proj} = W_in,
 * {@code down_proj} = W_out). {@code nn.Linear} weights are [out, in] and are transposed. The q and
 * k projections need no permutation: Hugging Face checkpoints are already in the rotate-half layout
 * that Loupe's rotary uses (the conversion scripts permute Meta's interleaved weights).
 * <ul>
 *   <li>llama: biases on q/k/v/o when {@code attention_bias}; {@code rope_scaling} type "llama3".</li>
 *   <li>mistral: a {@code sliding_window} (when not null) on every layer.</li>
 *   <li>qwen2: biases on q/k/v, never on o; with {@code use_sliding_window}, the window applies to
 *       layers {@code >= max_window_layers}.</li>
 * </ul>
 */
final class LlamaFamily implements HfFamily {
    enum Variant {
        LLAMA,
        MISTRAL,
        QWEN2
    }

    private final Variant variant;

    LlamaFamily(Variant variant) {
        this.variant = variant;
    }

    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        int layers = c.layerCount("num_hidden_layers");
        int kvHeads = c.has("num_key_value_heads") ? c.positiveInt("num_key_value_heads") : heads;
        if (heads % kvHeads != 0)
            throw c.invalid(
                    "num_attention_heads",
                    "(" + heads + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        int headDim = HfCommon.headDim(c, "head_dim", "hidden_size", d, "num_attention_heads", heads);
        double partial = c.optionalDouble("partial_rotary_factor", 1.0);
        if (!(partial > 0 && partial <= 1))
            throw c.invalid("partial_rotary_factor", "must be in (0, 1], found " + partial);
        if (c.optionalBool("mlp_bias", false))
            throw c.invalid("mlp_bias", "is true, which Loupe does not support (its gated MLP has no bias on W_gate)");
        Biases biases =
                switch (variant) {
                    case LLAMA -> {
                        boolean b = c.optionalBool("attention_bias", false);
                        yield new Biases(b, b, false, false, false);
                    }
                    case MISTRAL -> Biases.none();
                    case QWEN2 -> new Biases(true, false, false, false, false);
                };
        ModelConfig.Builder b = ModelConfig.builder()
                .dModel(d)
                .nLayers(layers)
                .nHeads(heads)
                .nKvHeads(kvHeads)
                .dHead(headDim)
                .dMlp(c.positiveInt("intermediate_size"))
                .dVocab(c.positiveInt("vocab_size"))
                .nCtx(c.positiveInt("max_position_embeddings"))
                .normalization(Normalization.RMS_NORM)
                .normEps(c.optionalEps("rms_norm_eps", 1e-6))
                .positional(Positional.ROTARY)
                .rotaryDim((int) (headDim * partial))
                .rotaryBase(HfCommon.ropeTheta(c, "rope_theta", 10000))
                .ropeScaling(HfCommon.ropeScaling(c))
                .activation(HfCommon.activation(c, "hidden_act", "silu", true))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", false))
                .biases(biases);
        Integer window =
                switch (variant) {
                    case LLAMA -> null;
                    case MISTRAL -> HfCommon.slidingWindow(c, 4096);
                    case QWEN2 -> c.optionalBool("use_sliding_window", false) ? HfCommon.slidingWindow(c, 4096) : null;
                };
        int firstLocal = variant == Variant.QWEN2 && window != null ? c.optionalInt("max_window_layers", 28) : 0;
        HfCommon.applyWindow(b, c, layers, window, l -> l >= firstLocal);
        return b.build();
    }

    @Override
    public void readWeights(ModelConfig cfg, HfConfig c, HfWeights w) {
        String p = w.prefix("embed_tokens.weight", "model.");
        long d = cfg.dModel();
        w.copy(p + "embed_tokens.weight", "embed.W_E", cfg.dVocab(), d);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String h = p + "layers." + l + ".", b = "blocks." + l + ".";
            w.copy(h + "input_layernorm.weight", b + "ln1.w", d);
            readAttention(cfg, w, h, b);
            w.copy(h + "post_attention_layernorm.weight", b + "ln2.w", d);
            readMlp(cfg, w, h, b);
        }
        w.copy(p + "norm.weight", "ln_final.w", d);
        w.unembedAndCheckAllUsed(cfg, "lm_head.weight");
    }

    /** {@code self_attn.{q,k,v,o}_proj} of layer prefix {@code h} into block prefix {@code b}. */
    static void readAttention(ModelConfig cfg, HfWeights w, String h, String b) {
        long d = cfg.dModel(), q = (long) cfg.nHeads() * cfg.dHead(), kv = (long) cfg.nKvHeads() * cfg.dHead();
        w.linear(h + "self_attn.q_proj.weight", b + "attn.W_Q", q, d);
        w.linear(h + "self_attn.k_proj.weight", b + "attn.W_K", kv, d);
        w.linear(h + "self_attn.v_proj.weight", b + "attn.W_V", kv, d);
        if (cfg.biases().qkv()) {
            w.copy(h + "self_attn.q_proj.bias", b + "attn.b_Q", q);
            w.copy(h + "self_attn.k_proj.bias", b + "attn.b_K", kv);
            w.copy(h + "self_attn.v_proj.bias", b + "attn.b_V", kv);
        }
        w.linear(h + "self_attn.o_proj.weight", b + "attn.W_O", d, q);
        if (cfg.biases().attnOut()) w.copy(h + "self_attn.o_proj.bias", b + "attn.b_O", d);
    }

    /** {@code mlp.{gate,up,down}_proj}. */
    static void readMlp(ModelConfig cfg, HfWeights w, String h, String b) {
        long d = cfg.dModel(), m = cfg.dMlp();
        w.linear(h + "mlp.gate_proj.weight", b + "mlp.W_gate", m, d);
        w.linear(h + "mlp.up_proj.weight", b + "mlp.W_in", m, d);
        w.linear(h + "mlp.down_proj.weight", b + "mlp.W_out", d, m);
    }
}
