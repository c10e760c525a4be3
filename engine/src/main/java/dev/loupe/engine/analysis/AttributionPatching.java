package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Attribution patching (Nanda, "Attribution Patching"; AtP, Kramár et al. 2024): the first-order
 * estimate of every activation patch at once. One forward pass on the clean prompts, one forward
 * and one backward pass on the corrupted prompts, and for every node the change in the metric that
 * patching it would cause is estimated as {@code (clean - corrupted) · d metric / d activation},
 * summed over the node's elements and the batch. Results have the same axes as {@link Patching}'s
 * and estimate {@code patched - corrupted}: compare them with {@code Patching}'s values minus
 * {@link Patching#corruptedValue()}.
 * <pre>{@code
 * AttributionPatching atp = AttributionPatching.of(model, clean, corrupted, PatchingMetric.logitDiff(a, w));
 * PatchResult heads = atp.headOutAllPos();     // [layer, head], from the same two passes as atp.residPre()
 * }</pre>
 */
public final class AttributionPatching {
    private final HookedTransformer model;
    private final ModelConfig cfg;
    private final Tokens clean, corrupted;
    private final PatchingMetric metric;
    private ActivationCache cleanCache, corruptedCache;
    private double corruptedValue = Double.NaN;

    private AttributionPatching(HookedTransformer model, Tokens clean, Tokens corrupted, PatchingMetric metric) {
        this.model = model;
        this.cfg = model.config();
        this.clean = clean;
        this.corrupted = corrupted;
        this.metric = metric;
    }

    /** Clean and corrupted prompts, [batch, pos] alike, and a differentiable metric. */
    public static AttributionPatching of(
            HookedTransformer model, Tokens clean, Tokens corrupted, PatchingMetric metric) {
        PatchedRuns.checkPair("attribution patching", clean, corrupted);
        if (!metric.differentiable())
            throw new LoupeException("attribution patching: metric " + metric.name() + " has no gradient; build it "
                    + "from Tensor ops (PatchingMetric.differentiable, logitDiff, loss, kl)");
        metric.check(model.config(), corrupted);
        return new AttributionPatching(model, clean, corrupted, metric);
    }

    /** The metric of the corrupted run (the baseline the estimates are changes from). */
    public double corruptedValue() {
        runs();
        return corruptedValue;
    }

    /** resid_pre by [layer, pos]. */
    public PatchResult residPre() {
        return byLayerPos("resid_pre");
    }

    /** resid_mid by [layer, pos]. */
    public PatchResult residMid() {
        return byLayerPos("resid_mid");
    }

    /** resid_post by [layer, pos]. */
    public PatchResult residPost() {
        return byLayerPos("resid_post");
    }

    /** attn_out by [layer, pos]. */
    public PatchResult attnOut() {
        return byLayerPos("attn_out");
    }

    /** mlp_out by [layer, pos]. */
    public PatchResult mlpOut() {
        return byLayerPos("mlp_out");
    }

    /** Each head's output (z) at every position: [layer, head]. */
    public PatchResult headOutAllPos() {
        return heads("z", false);
    }

    /** Each head's output (z) by position: [layer, pos, head]. */
    public PatchResult headOutByPos() {
        return heads("z", true);
    }

    /** Each head's queries at every position: [layer, head]. */
    public PatchResult headQAllPos() {
        return heads("q", false);
    }

    /** Each key/value head's keys at every position: [layer, head]. */
    public PatchResult headKAllPos() {
        return heads("k", false);
    }

    /** Each key/value head's values at every position: [layer, head]. */
    public PatchResult headVAllPos() {
        return heads("v", false);
    }

    /** Each MLP neuron ({@code mlp.hook_post}) at every position: [layer, neuron]. */
    public PatchResult neurons() {
        return neurons(false);
    }

    /** Each MLP neuron by position: [layer, pos, neuron]. */
    public PatchResult neuronsByPos() {
        return neurons(true);
    }

    // ------------------------------------------------------------------ the estimate

    /** Σ (clean - corrupted) · grad over batch and d_model: [layer, pos]. */
    private PatchResult byLayerPos(String activation) {
        List<INDArray> perLayer = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++)
            perLayer.add(attribution(activation, l).sum(0, 2)); // [batch, pos, d_model] -> [pos]
        return result(perLayer, List.of("layer", "pos"));
    }

    /** [layer, head] or [layer, pos, head] of a [batch, pos, head, d_head] activation. */
    private PatchResult heads(String activation, boolean byPos) {
        List<INDArray> perLayer = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++) {
            INDArray a = attribution(activation, l); // [batch, pos, head, d_head]
            perLayer.add(byPos ? a.sum(0, 3) : a.sum(0, 1, 3));
        }
        return result(perLayer, byPos ? List.of("layer", "pos", "head") : List.of("layer", "head"));
    }

    private PatchResult neurons(boolean byPos) {
        if (cfg.attnOnly())
            throw new LoupeException("attribution patching: an attention-only model has no MLP neurons");
        List<INDArray> perLayer = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++) {
            INDArray a = attribution("post", l); // [batch, pos, d_mlp]
            perLayer.add(byPos ? a.sum(0) : a.sum(0, 1));
        }
        return result(perLayer, byPos ? List.of("layer", "pos", "neuron") : List.of("layer", "neuron"));
    }

    private PatchResult result(List<INDArray> perLayer, List<String> axes) {
        INDArray[] parts = perLayer.stream()
                .map(p -> p.castTo(DataType.DOUBLE).reshape(concat(1, p.shape())))
                .toArray(INDArray[]::new);
        return new PatchResult(Nd4j.concat(0, parts), axes, List.of(), "attribution_" + metric.name());
    }

    /** (clean - corrupted) * d metric / d corrupted activation, elementwise, for one hook point. */
    private INDArray attribution(String activation, int layer) {
        runs();
        String name = dev.loupe.engine.hooks.HookNames.actName(activation, layer);
        if (!cleanCache.contains(name))
            throw new LoupeException("attribution patching: this model has no hook point '" + name + "'");
        INDArray diff = cleanCache.get(name).sub(corruptedCache.get(name));
        // No gradient entry: the metric does not depend on this point, so every patch of it changes nothing.
        if (!corruptedCache.names().contains(name + "_grad")) return diff.muli(0);
        return diff.muli(corruptedCache.get(name + "_grad"));
    }

    /** The two runs: the clean one cached, the corrupted one cached and differentiated. */
    private void runs() {
        if (cleanCache != null) return;
        List<String> names = new ArrayList<>();
        for (String n : model.hookNames()) {
            String s = dev.loupe.engine.hooks.HookNames.shortName(n);
            if (dev.loupe.engine.hooks.HookNames.layerOf(n) >= 0
                    && List.of(
                                    "resid_pre",
                                    "resid_mid",
                                    "resid_post",
                                    "attn_out",
                                    "mlp_out",
                                    "z",
                                    "q",
                                    "k",
                                    "v",
                                    "post")
                            .contains(s)
                    && !n.contains("ln")) names.add(n);
        }
        ActivationFilter filter = ActivationFilter.names(names.toArray(String[]::new));
        cleanCache = model.runWithCache(clean, filter).cache();
        ForwardResult r = model.runWithCache(corrupted, filter, out -> metric.apply(out.logits()));
        corruptedCache = r.cache();
        corruptedValue = r.objective();
        if (!Double.isFinite(corruptedValue))
            throw new LoupeException("attribution patching: metric " + metric.name() + " returned " + corruptedValue
                    + " for the corrupted run");
    }

    private static long[] concat(long first, long[] rest) {
        long[] s = new long[rest.length + 1];
        s[0] = first;
        System.arraycopy(rest, 0, s, 1, rest.length);
        return s;
    }
}
