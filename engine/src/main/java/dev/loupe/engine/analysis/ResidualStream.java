package dev.loupe.engine.analysis;

import static dev.loupe.engine.autograd.TransformerKernels.affineLast;
import static dev.loupe.engine.autograd.TransformerKernels.centerLast;
import static dev.loupe.engine.autograd.TransformerKernels.normalizeLast;
import static dev.loupe.engine.autograd.TransformerKernels.rmsLast;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.autograd.Tensor;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Normalization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The residual stream of one cached run taken apart, as TransformerLens's {@code ActivationCache}
 * methods do: {@link #accumulatedResid} (the logit lens), {@link #decomposeResid} and
 * {@link #stackHeadResults} (direct logit attribution), {@link #applyLnToStack} and
 * {@link #logitAttrs}. The cache must hold what a method reads (TransformerLens assumes everything
 * is cached; {@code ActivationFilter.all()} does that).
 * <pre>{@code
 * ResidualStream rs = ResidualStream.of(model, model.runWithCache(tokens, ActivationFilter.all()).cache());
 * ComponentStack lens = rs.accumulatedResid(-1, false, true, false);   // [n_layers + 1, batch, pos, d_model]
 * INDArray perLayerLogits = rs.unembed(lens.components());             // [n_layers + 1, batch, pos, d_vocab]
 * INDArray dla = rs.logitAttrs(rs.decomposeResid(-1, false, "all", true, true).components(), answer, wrong);
 * }</pre>
 */
public final class ResidualStream {
    private final HookedTransformer model;
    private final ModelConfig cfg;
    private final ActivationCache cache;
    private final Map<String, INDArray> weights; // TransformerLens names and layouts

    private ResidualStream(HookedTransformer model, ActivationCache cache) {
        this.model = model;
        this.cfg = model.config();
        this.cache = cache;
        this.weights = model.stateDict();
    }

    public static ResidualStream of(HookedTransformer model, ActivationCache cache) {
        return new ResidualStream(model, cache);
    }

    private int layerOrAll(int layer, String method) {
        if (layer == -1) return cfg.nLayers();
        if (layer < 0 || layer > cfg.nLayers())
            throw new LoupeException(method + ": layer " + layer + " is out of range 0.." + cfg.nLayers() + " (or -1)");
        return layer;
    }

    /**
     * {@code accumulated_resid}: the residual stream entering each block up to {@code layer}
     * ({@code -1} or n_layers: every block and the final residual, labelled {@code final_post}),
     * [n, batch, pos, d_model]. {@code inclMid} adds each earlier block's resid_mid, {@code
     * mlpInput} the resid_mid of {@code layer} itself. With {@code applyLn}, each component goes
     * through the final norm with its own statistics (the logit lens) when {@code layer} is the
     * end, else is scaled by that block's cached ln1 (or ln2) scale.
     */
    public ComponentStack accumulatedResid(int layer, boolean inclMid, boolean applyLn, boolean mlpInput) {
        layer = layerOrAll(layer, "accumulatedResid");
        List<INDArray> parts = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        for (int l = 0; l <= layer; l++) {
            if (l == cfg.nLayers()) {
                parts.add(act("resid_post", cfg.nLayers() - 1));
                labels.add("final_post");
                continue;
            }
            parts.add(act("resid_pre", l));
            labels.add(l + "_pre");
            if ((inclMid && l < layer) || (mlpInput && l == layer)) {
                parts.add(act("resid_mid", l));
                labels.add(l + "_mid");
            }
        }
        INDArray stack = stack(parts);
        if (applyLn) stack = applyLnToStack(stack, layer, mlpInput, layer == cfg.nLayers());
        return new ComponentStack(stack, labels);
    }

    /** {@code accumulated_resid()} with every block and the final residual, the final norm applied to each (the logit lens). */
    public ComponentStack accumulatedResid() {
        return accumulatedResid(-1, false, true, false);
    }

    /**
     * {@code decompose_resid}: the residual stream entering block {@code layer} (-1: the final one)
     * as the sum of its parts, [n, batch, pos, d_model]: {@code embed}, {@code pos_embed} (with
     * {@code inclEmbeds}), and each earlier block's {@code l_attn_out} and {@code l_mlp_out} ({@code
     * mode} "all", "attn" or "mlp"); {@code mlpInput} adds block {@code layer}'s attn_out.
     */
    public ComponentStack decomposeResid(
            int layer, boolean mlpInput, String mode, boolean applyLn, boolean inclEmbeds) {
        layer = layerOrAll(layer, "decomposeResid");
        if (!List.of("all", "attn", "mlp").contains(mode))
            throw new LoupeException("decomposeResid: mode '" + mode + "' must be all, attn or mlp");
        if (mlpInput && layer == cfg.nLayers())
            throw new LoupeException("decomposeResid: mlpInput needs a block, not the final layer");
        boolean attn = !mode.equals("mlp"), mlp = !mode.equals("attn") && !cfg.attnOnly();
        List<INDArray> parts = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        if (inclEmbeds) {
            parts.add(get("hook_embed"));
            labels.add("embed");
            if (model.hookNames().contains("hook_pos_embed")) {
                parts.add(get("hook_pos_embed"));
                labels.add("pos_embed");
            }
        }
        for (int l = 0; l < layer; l++) {
            if (attn) {
                parts.add(act("attn_out", l));
                labels.add(l + "_attn_out");
            }
            if (mlp) {
                parts.add(act("mlp_out", l));
                labels.add(l + "_mlp_out");
            }
        }
        if (mlpInput && attn) {
            parts.add(act("attn_out", layer));
            labels.add(layer + "_attn_out");
        }
        if (parts.isEmpty())
            throw new LoupeException("decomposeResid: nothing to decompose (layer 0 without embeddings)");
        INDArray stack = stack(parts);
        if (applyLn) stack = applyLnToStack(stack, layer, mlpInput, false);
        return new ComponentStack(stack, labels);
    }

    /** {@code decompose_resid()}: every part of the final residual stream, embeddings included, no norm. */
    public ComponentStack decomposeResid() {
        return decomposeResid(-1, false, "all", false, true);
    }

    /**
     * {@code stack_head_results}: every head's write into the residual stream ({@code z_h W_O[h]},
     * without b_O) in the blocks before {@code layer} (-1: all), [n_layers' heads, batch, pos,
     * d_model], labelled {@code L0H0}, {@code L0H1}, ...; with {@code inclRemainder} a last
     * component {@code remainder}: the residual stream minus the heads' sum.
     */
    public ComponentStack stackHeadResults(int layer, boolean inclRemainder, boolean applyLn) {
        layer = layerOrAll(layer, "stackHeadResults");
        List<INDArray> parts = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        for (int l = 0; l < layer; l++) {
            INDArray z = act("z", l); // [batch, pos, head, d_head]
            INDArray wO = weights.get("blocks." + l + ".attn.W_O"); // [head, d_head, d_model]
            long B = z.size(0), T = z.size(1);
            for (int h = 0; h < cfg.nHeads(); h++) {
                INDArray zh = z.get(all(), all(), point(h), all()).dup('c').reshape(B * T, cfg.dHead());
                parts.add(zh.mmul(wO.slice(h).castTo(zh.dataType())).reshape(B, T, cfg.dModel()));
                labels.add("L" + l + "H" + h);
            }
        }
        if (inclRemainder) {
            INDArray resid = layer == 0 ? get("blocks.0.hook_resid_pre") : act("resid_post", layer - 1);
            INDArray rest = resid.dup();
            for (INDArray p : parts) rest.subi(p);
            parts.add(rest);
            labels.add("remainder");
        }
        if (parts.isEmpty()) throw new LoupeException("stackHeadResults: no heads before layer 0");
        INDArray stack = stack(parts);
        if (applyLn) stack = applyLnToStack(stack, layer, false, false);
        return new ComponentStack(stack, labels);
    }

    /**
     * {@code apply_ln_to_stack}: the stack [n, batch, pos, d_model] as the input of block {@code
     * layer}'s ln1 (ln2 with {@code mlpInput}), or of the final norm for {@code layer} -1 or
     * n_layers: centred (LayerNorm) and divided by the run's cached scale — the same scale for every
     * component, so the parts still add up. With {@code recomputeLn} at the final layer, each
     * component goes through the whole final norm (weights included) with its own statistics.
     * Models without normalization get the stack back unchanged.
     */
    public INDArray applyLnToStack(INDArray stack, int layer, boolean mlpInput, boolean recomputeLn) {
        layer = layerOrAll(layer, "applyLnToStack");
        Normalization n = cfg.normalization();
        if (n == Normalization.NONE) return stack;
        if (stack.size(stack.rank() - 1) != cfg.dModel())
            throw new LoupeException("applyLnToStack: the stack's last dimension is " + stack.size(stack.rank() - 1)
                    + ", expected d_model " + cfg.dModel());
        try (Graph g = Graph.inference()) {
            Tensor x = g.constant(stack);
            if (n.centers()) x = centerLast(x); // x - mean(x)
            Tensor out;
            if (recomputeLn && layer == cfg.nLayers()) {
                // the logit lens: the whole final norm, each component with its own statistics
                Tensor w = n.hasWeights() ? g.constant(weights.get("ln_final.w")) : null;
                Tensor b = n.hasWeights() && weights.containsKey("ln_final.b")
                        ? g.constant(weights.get("ln_final.b"))
                        : null;
                out = affineLast(normalizeLast(x, rmsLast(x, cfg.normEps())), w, b);
            } else {
                String key = layer == cfg.nLayers()
                        ? "ln_final.hook_scale"
                        : "blocks." + layer + (mlpInput ? ".ln2" : ".ln1") + ".hook_scale";
                out = x.div(g.constant(get(key))); // [batch, pos, 1] broadcast over the components
            }
            g.keep(out.data());
            return out.data();
        }
    }

    /**
     * {@code logit_attrs}: each component's direct contribution to the logit of {@code tokens} (minus
     * that of {@code incorrectTokens} when given), [n, batch, pos]: the components scaled by the
     * final norm's cached scale ({@link #applyLnToStack}), dotted with the tokens' unembedding
     * columns (TransformerLens's {@code tokens_to_residual_directions}, no bias). Tokens are one id
     * for every prompt, or one per prompt (batch).
     */
    public INDArray logitAttrs(INDArray stack, int[] tokens, int[] incorrectTokens) {
        if (incorrectTokens != null && incorrectTokens.length != tokens.length)
            throw new LoupeException("logitAttrs: " + tokens.length + " tokens but " + incorrectTokens.length
                    + " incorrect tokens; they must have the same shape");
        INDArray directions = residualDirections(tokens, stack); // [batch or 1, 1, d_model]
        if (incorrectTokens != null) directions = directions.sub(residualDirections(incorrectTokens, stack));
        INDArray scaled = applyLnToStack(stack, -1, false, false);
        try (Graph g = Graph.inference()) {
            Tensor attrs = g.constant(scaled).mul(g.constant(directions)).sumLast(); // [n, batch, pos, 1]?
            INDArray out = attrs.data().dup();
            return out.rank() == stack.rank() ? out.reshape(java.util.Arrays.copyOf(out.shape(), out.rank() - 1)) : out;
        }
    }

    /** {@link #logitAttrs(INDArray, int[], int[])} for one answer and one incorrect token for every prompt. */
    public INDArray logitAttrs(INDArray stack, int token, int incorrectToken) {
        return logitAttrs(stack, new int[] {token}, new int[] {incorrectToken});
    }

    /** {@link #logitAttrs(INDArray, int[], int[])} for one token, no incorrect token. */
    public INDArray logitAttrs(INDArray stack, int token) {
        return logitAttrs(stack, new int[] {token}, null);
    }

    /** {@code tokens_to_residual_directions}: the unembedding column of each token, [tokens, 1, d_model]. */
    private INDArray residualDirections(int[] tokens, INDArray stack) {
        if (tokens.length != 1 && tokens.length != stack.size(1))
            throw new LoupeException("logitAttrs: " + tokens.length + " tokens for a batch of " + stack.size(1)
                    + " (give one, or one per prompt)");
        INDArray wU = unembedMatrix(); // [d_model, d_vocab]
        INDArray out = Nd4j.create(stack.dataType(), tokens.length, 1, cfg.dModel());
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= cfg.dVocab())
                throw new LoupeException(
                        "logitAttrs: token " + tokens[i] + " is outside the vocabulary 0.." + (cfg.dVocab() - 1));
            out.get(point(i), point(0), all()).assign(wU.getColumn(tokens[i]).castTo(stack.dataType()));
        }
        return out;
    }

    /**
     * The logit lens' last step: a stack of normalised residual streams [..., d_model] times the
     * unembedding (plus its bias), [..., d_vocab].
     */
    public INDArray unembed(INDArray normalizedStack) {
        long[] shape = normalizedStack.shape();
        long rows = normalizedStack.length() / cfg.dModel();
        INDArray flat = normalizedStack.dup('c').reshape(rows, cfg.dModel());
        INDArray logits = flat.mmul(unembedMatrix().castTo(flat.dataType()));
        INDArray bU = weights.get("unembed.b_U");
        if (bU != null) logits.addiRowVector(bU.castTo(logits.dataType()));
        long[] out = shape.clone();
        out[out.length - 1] = cfg.dVocab();
        return logits.reshape(out);
    }

    private INDArray unembedMatrix() {
        INDArray wU = weights.get("unembed.W_U");
        return wU != null ? wU : weights.get("embed.W_E").transpose();
    }

    // ------------------------------------------------------------------ cache access

    private INDArray act(String shortName, int layer) {
        return get(dev.loupe.engine.hooks.HookNames.actName(shortName, layer));
    }

    private INDArray get(String name) {
        if (!cache.contains(name))
            throw new LoupeException("residual stream: the cache has no '" + name
                    + "'; cache it in the run (ActivationFilter.all() caches everything)");
        return cache.get(name);
    }

    private static INDArray stack(List<INDArray> parts) {
        INDArray[] expanded = new INDArray[parts.size()];
        for (int i = 0; i < expanded.length; i++) {
            INDArray p = parts.get(i);
            long[] s = new long[p.rank() + 1];
            s[0] = 1;
            System.arraycopy(p.shape(), 0, s, 1, p.rank());
            expanded[i] = p.reshape(s);
        }
        return Nd4j.concat(0, expanded);
    }
}
