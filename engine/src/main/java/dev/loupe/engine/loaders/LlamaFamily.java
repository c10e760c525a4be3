package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.ModelConfig.QkNorm;

/**
 * {@code model_type "llama"}, {@code "mistral"}, {@code "qwen2"} and {@code "qwen3"}: pre-RMSNorm
 * blocks, rotary, grouped-query attention, SwiGLU ({@code gate_proj} = W_gate, {@code up_proj} =
 * W_in, {@code down_proj} = W_out). {@code nn.Linear} weights are [out, in] and are transposed. The q
 * and k projections need no permutation: Hugging Face checkpoints are already in the rotate-half
 * layout that Loupe's rotary uses (the conversion scripts permute Meta's interleaved weights).
 * <ul>
 *   <li>llama: biases on q/k/v/o when {@code attention_bias}; {@code rope_scaling} type "llama3".
 *       SmolLM2 is a llama config.</li>
 *   <li>mistral: a {@code sliding_window} (when not null) on every layer.</li>
 *   <li>qwen2: biases on q/k/v, never on o; with {@code use_sliding_window}, the window applies to
 *       layers {@code >= max_window_layers}. QwQ is a qwen2 config.</li>
 *   <li>qwen3: as qwen2 without the fixed biases ({@code attention_bias} puts them on q/k/v/o), plus an
 *       RMSNorm of each head's query and key ({@code self_attn.q_norm}, {@code k_norm}: TransformerLens's
 *       {@code attn.q_norm}/{@code k_norm}) before rotary.</li>
 * </ul>
 */
final class LlamaFamily implements HfFamily {
    enum Variant {
        LLAMA,
        MISTRAL,
        QWEN2,
        QWEN3
    }

    private final Variant variant;

    LlamaFamily(Variant variant) {
        this.variant = variant;
    }

    @Override
    public ModelConfig config(HfConfig c) {
        int d = c.positiveInt("hidden_size"), heads = c.positiveInt("num_attention_heads");
        int layers = c.layerCount("num_hidden_layers");
        int kvHeads = HfCommon.kvHeads(c, heads);
        int headDim = HfCommon.headDim(c, "head_dim", "hidden_size", d, "num_attention_heads", heads);
        if (c.optionalBool("mlp_bias", false))
            throw c.invalid("mlp_bias", "is true, which Loupe does not support (its gated MLP has no bias on W_gate)");
        if (c.optionalBool("rope_interleaved", false))
            throw c.invalid(
                    "rope_interleaved", "is true; Loupe's rotary rotates halves (rotate_half), not interleaved pairs");
        Biases biases =
                switch (variant) {
                    case LLAMA, QWEN3 -> {
                        boolean b = c.optionalBool("attention_bias", false);
                        yield new Biases(b, b, false, false, false);
                    }
                    case MISTRAL -> Biases.none();
                    case QWEN2 -> new Biases(true, false, false, false, false);
                };
        HfCommon.Rope rope = HfCommon.rope(c, null, HfCommon.RopeKeys.STANDARD, 10000, 1.0);
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
                .rotaryDim(HfCommon.rotaryDim(c, headDim, rope))
                .rotaryBase(rope.theta())
                .ropeScaling(rope.scaling())
                .qkNorm(variant == Variant.QWEN3 ? QkNorm.PER_HEAD : QkNorm.NONE)
                .activation(HfCommon.activation(c, "hidden_act", "silu", true))
                .tiedEmbeddings(c.optionalBool("tie_word_embeddings", false))
                .biases(biases);
        Integer window =
                switch (variant) {
                    case LLAMA -> null;
                    case MISTRAL -> HfCommon.slidingWindow(c, 4096);
                    case QWEN2, QWEN3 -> c.optionalBool("use_sliding_window", false)
                            ? HfCommon.slidingWindow(c, 4096)
                            : null;
                };
        boolean qwen = variant == Variant.QWEN2 || variant == Variant.QWEN3;
        int firstLocal = qwen && window != null ? c.optionalInt("max_window_layers", 28) : 0;
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
            if (cfg.qkNorm() != QkNorm.NONE) readQkNorms(cfg, w, h, b);
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

    /** {@code self_attn.q_norm} / {@code k_norm} weights, per head [d_head] or over all heads [heads * d_head]. */
    static void readQkNorms(ModelConfig cfg, HfWeights w, String h, String b) {
        boolean perHead = cfg.qkNorm() == QkNorm.PER_HEAD;
        long q = perHead ? cfg.dHead() : (long) cfg.nHeads() * cfg.dHead();
        long k = perHead ? cfg.dHead() : (long) cfg.nKvHeads() * cfg.dHead();
        w.copy(h + "self_attn.q_norm.weight", b + "attn.q_norm.w", q);
        w.copy(h + "self_attn.k_norm.weight", b + "attn.k_norm.w", k);
    }

    /** {@code mlp.{gate,up,down}_proj}. */
    static void readMlp(ModelConfig cfg, HfWeights w, String h, String b) {
        long d = cfg.dModel(), m = cfg.dMlp();
        w.linear(h + "mlp.gate_proj.weight", b + "mlp.W_gate", m, d);
        w.linear(h + "mlp.up_proj.weight", b + "mlp.W_in", m, d);
        w.linear(h + "mlp.down_proj.weight", b + "mlp.W_out", d, m);
    }
}
