package dev.loupe.engine.hooks;

/**
 * Every kind of hook point the forward pass has, declared once: its TransformerLens name
 * ({@code {l}} stands for the block index), the shape of what it holds, and what that is. The
 * forward pass names each activation it hooks by one of these; which of them a given model has, and
 * in what order, is found by running that forward pass (see {@code HookedTransformer.hookNames}),
 * never listed by hand. The constants are in the order a sequential block meets them;
 * {@code docs/hooks.md}'s table lists the same rows (a test holds the two equal).
 * <p>
 * Two kinds may share a name when models differ in shape there (TransformerLens's q/k norms are per
 * head in Qwen 3 and over all heads in OLMo 2).
 * <p>
 * Shapes use {@code batch}, {@code pos} (positions run), {@code head} ({@code n_heads}),
 * {@code kv_head} ({@code n_kv_heads}), {@code q_pos}/{@code k_pos} (query and key positions), and
 * the config's widths.
 */
public enum HookSite {
    EMBED("hook_embed", "[batch, pos, d_model]", "token embeddings, rows of `W_E` (times `embedScale`)"),
    POS_EMBED(
            "hook_pos_embed",
            "[batch, pos, d_model]",
            "rows of `W_pos`; a sequence's positions count its real tokens only"),
    RESID_PRE("blocks.{l}.hook_resid_pre", "[batch, pos, d_model]", "residual stream entering block `l`"),
    LN1_SCALE(
            "blocks.{l}.ln1.hook_scale",
            "[batch, pos, 1]",
            "`sqrt(mean(x²) + eps)` of the (for LayerNorm: centred) input"),
    LN1_NORMALIZED(
            "blocks.{l}.ln1.hook_normalized",
            "[batch, pos, d_model]",
            "`x / scale`, before the affine part (`* w + b`) that makes it the attention's input (OLMo 2: "
                    + "normalises the attention's output)"),
    Q("blocks.{l}.attn.hook_q", "[batch, pos, head, d_head]", "queries `x W_Q + b_Q` (before rotary)"),
    K("blocks.{l}.attn.hook_k", "[batch, pos, kv_head, d_head]", "keys (before rotary)"),
    V("blocks.{l}.attn.hook_v", "[batch, pos, kv_head, d_head]", "values"),
    Q_NORM_SCALE(
            "blocks.{l}.attn.q_norm.hook_scale",
            "[batch*pos*head, 1]",
            "`sqrt(mean(q²) + eps)` of each head's query (per-head q/k norm: Qwen 3, Gemma 3)"),
    Q_NORM_NORMALIZED(
            "blocks.{l}.attn.q_norm.hook_normalized",
            "[batch*pos*head, d_head]",
            "each head's query `/ scale`, before `* w`; rotary reads the result"),
    K_NORM_SCALE("blocks.{l}.attn.k_norm.hook_scale", "[batch*pos*kv_head, 1]", "as `q_norm`, of each head's key"),
    K_NORM_NORMALIZED(
            "blocks.{l}.attn.k_norm.hook_normalized", "[batch*pos*kv_head, d_head]", "as `q_norm`, of each head's key"),
    Q_NORM_ALL_HEADS_SCALE(
            "blocks.{l}.attn.q_norm.hook_scale",
            "[batch, pos, 1]",
            "`sqrt(mean(q²) + eps)` over all heads' queries together (q/k norm over all heads: OLMo 2)"),
    Q_NORM_ALL_HEADS_NORMALIZED(
            "blocks.{l}.attn.q_norm.hook_normalized",
            "[batch, pos, head*d_head]",
            "all heads' queries `/ scale`, before `* w`"),
    K_NORM_ALL_HEADS_SCALE("blocks.{l}.attn.k_norm.hook_scale", "[batch, pos, 1]", "as `q_norm`, of the keys"),
    K_NORM_ALL_HEADS_NORMALIZED(
            "blocks.{l}.attn.k_norm.hook_normalized", "[batch, pos, kv_head*d_head]", "as `q_norm`, of the keys"),
    ROT_Q("blocks.{l}.attn.hook_rot_q", "[batch, pos, head, d_head]", "queries after the rotary embedding"),
    ROT_K("blocks.{l}.attn.hook_rot_k", "[batch, pos, kv_head, d_head]", "keys after the rotary embedding"),
    ATTN_SCORES(
            "blocks.{l}.attn.hook_attn_scores",
            "[batch, head, q_pos, k_pos]",
            "`q·k / sqrt(d_head)`, masked with `-inf`"),
    PATTERN("blocks.{l}.attn.hook_pattern", "[batch, head, q_pos, k_pos]", "softmax of the scores over `k_pos`"),
    Z("blocks.{l}.attn.hook_z", "[batch, pos, head, d_head]", "each head's pattern-weighted sum of values"),
    RESULT(
            "blocks.{l}.attn.hook_result",
            "[batch, pos, head, d_model]",
            "each head's write to the residual, `z_h W_O[h]` (without `b_O`)"),
    LN1_POST_SCALE("blocks.{l}.ln1_post.hook_scale", "[batch, pos, 1]", "as `ln1`, of the attention's output"),
    LN1_POST_NORMALIZED(
            "blocks.{l}.ln1_post.hook_normalized",
            "[batch, pos, d_model]",
            "the attention's output `/ scale`, before `* w`"),
    ATTN_OUT("blocks.{l}.hook_attn_out", "[batch, pos, d_model]", "attention output, `b_O` included"),
    RESID_MID("blocks.{l}.hook_resid_mid", "[batch, pos, d_model]", "`resid_pre + attn_out`"),
    LN2_SCALE("blocks.{l}.ln2.hook_scale", "[batch, pos, 1]", "as `ln1`"),
    LN2_NORMALIZED(
            "blocks.{l}.ln2.hook_normalized",
            "[batch, pos, d_model]",
            "as `ln1`, for the MLP's input (OLMo 2: normalises the MLP's output)"),
    MLP_PRE(
            "blocks.{l}.mlp.hook_pre",
            "[batch, pos, d_mlp]",
            "`x W_in + b_in`; gated MLPs: the gate `x W_gate` (no bias)"),
    MLP_PRE_LINEAR("blocks.{l}.mlp.hook_pre_linear", "[batch, pos, d_mlp]", "`x W_in` (no bias)"),
    MLP_POST("blocks.{l}.mlp.hook_post", "[batch, pos, d_mlp]", "`act(pre)`; gated: `act(pre) * pre_linear + b_in`"),
    LN2_POST_SCALE("blocks.{l}.ln2_post.hook_scale", "[batch, pos, 1]", "as `ln1`, of the MLP's output"),
    LN2_POST_NORMALIZED(
            "blocks.{l}.ln2_post.hook_normalized", "[batch, pos, d_model]", "the MLP's output `/ scale`, before `* w`"),
    MLP_OUT("blocks.{l}.hook_mlp_out", "[batch, pos, d_model]", "MLP output, `post W_out + b_out`"),
    RESID_POST("blocks.{l}.hook_resid_post", "[batch, pos, d_model]", "residual stream leaving block `l`"),
    LN_FINAL_SCALE("ln_final.hook_scale", "[batch, pos, 1]", "as `ln1`"),
    LN_FINAL_NORMALIZED("ln_final.hook_normalized", "[batch, pos, d_model]", "as `ln1`, for the unembedding's input"),
    UNEMBED_IN("unembed.hook_in", "[batch, pos, d_model]", "the unembedding's input (after `ln_final`'s affine part)"),
    UNEMBED_OUT("unembed.hook_out", "[batch, pos, d_vocab]", "the logits, before any soft-cap (`outputLogitsSoftCap`)");

    private static final String LAYER = "{l}";

    private final String template, shape, holds;
    private final String prefix, suffix; // around {l}; prefix is the whole name outside the blocks

    HookSite(String template, String shape, String holds) {
        this.template = template;
        this.shape = shape;
        this.holds = holds;
        int at = template.indexOf(LAYER);
        prefix = at < 0 ? template : template.substring(0, at);
        suffix = at < 0 ? "" : template.substring(at + LAYER.length());
    }

    /** The name with {@code {l}} for the block, e.g. {@code blocks.{l}.attn.hook_q}. */
    public String template() {
        return template;
    }

    /** The shape of the activation, e.g. {@code [batch, pos, head, d_head]}. */
    public String shape() {
        return shape;
    }

    /** What the activation is, in a phrase (Markdown). */
    public String holds() {
        return holds;
    }

    /** Whether the point is inside a block (its name has a layer). */
    public boolean perLayer() {
        return template.contains(LAYER);
    }

    /**
     * The module the point belongs to, as TransformerLens names its modules: {@code blocks.3.ln1} for
     * {@code LN1_SCALE.module(3)}, {@code ln_final}, {@code blocks.3} for the residual points, or
     * {@code ""} for the embeddings. A norm's weights are {@code module + ".w"}.
     */
    public String module(int layer) {
        String n = name(layer);
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(0, dot);
    }

    /** The full name in block {@code layer} (ignored outside the blocks): {@code Q.name(3)} is {@code blocks.3.attn.hook_q}. */
    public String name(int layer) {
        return perLayer() ? prefix + layer + suffix : template;
    }
}
