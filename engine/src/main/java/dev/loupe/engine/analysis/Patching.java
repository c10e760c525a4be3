package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Activation patching with TransformerLens's {@code patching.py} semantics: run the corrupted
 * prompts, overwrite one slice of one activation with the clean run's, and score the patched
 * logits with a {@link PatchingMetric} — for every slice of a family at once. {@code residPre()}
 * is {@code get_act_patch_resid_pre}, {@code headOutAllPos()} is {@code
 * get_act_patch_attn_head_out_all_pos}, and so on; {@link #generic} is {@code generic_activation_patch}.
 *
 * <p>Unlike TransformerLens, which runs one forward pass per patch, Loupe stacks many patched
 * copies of the corrupted prompts into one batch (as many as {@link #memoryBudget} allows) and
 * starts each at the block of its patch; the results are exactly those of one pass per patch
 * ({@code runsPerPass(1)}).
 * <pre>{@code
 * Patching p = Patching.of(model, clean, corrupted, PatchingMetric.logitDiff(answer, wrong));
 * PatchResult r = p.residPre();          // [layer, pos]
 * Table t = p.headOutAllPos().table();   // layer, head, value
 * }</pre>
 */
public final class Patching {

    /** The targets {@link #target} accepts, as {@code ./loupe patch --target} spells them. */
    public static final List<String> TARGETS = List.of(
            "resid_pre",
            "resid_mid",
            "resid_post",
            "attn_out",
            "mlp_out",
            "head_z",
            "head_z_by_pos",
            "head_q",
            "head_k",
            "head_v",
            "head_pattern",
            "head_q_by_pos",
            "head_k_by_pos",
            "head_v_by_pos",
            "head_pattern_by_pos");

    private final HookedTransformer model;
    private final ModelConfig cfg;
    private final Tokens clean;
    private final ActivationCache cleanCache;
    private final PatchingMetric metric;
    private final PatchedRuns runs;
    private final Map<String, INDArray> cleanActs = new LinkedHashMap<>();

    private Patching(
            HookedTransformer model,
            Tokens clean,
            ActivationCache cleanCache,
            Tokens corrupted,
            PatchingMetric metric,
            PatchedRuns runs) {
        this.model = model;
        this.cfg = model.config();
        this.clean = clean;
        this.cleanCache = cleanCache;
        this.metric = metric;
        this.runs = runs != null ? runs : new PatchedRuns(model, corrupted);
        metric.check(cfg, corrupted);
    }

    /**
     * Patching from the clean prompts into the corrupted ones; the clean activations each family
     * needs are cached from one clean run when it is first asked for. Both are [batch, pos], same shape.
     */
    public static Patching of(HookedTransformer model, Tokens clean, Tokens corrupted, PatchingMetric metric) {
        PatchedRuns.checkPair("patching", clean, corrupted);
        if (clean.padded()) throw new LoupeException("patching: padded clean prompts are not supported");
        return new Patching(model, clean, null, corrupted, metric, null);
    }

    /** As TransformerLens: the corrupted prompts and a cache of the clean run (holding what is patched). */
    public static Patching of(
            HookedTransformer model, Tokens corrupted, ActivationCache cleanCache, PatchingMetric metric) {
        return new Patching(model, null, cleanCache, corrupted, metric, null);
    }

    /** Memory for the activations of one batched pass (default 1 GiB): more patches per pass when larger. */
    public Patching memoryBudget(long bytes) {
        runs.memoryBudget(bytes);
        return this;
    }

    /** At most this many patched runs per pass (1: one pass per patch, as TransformerLens). */
    public Patching runsPerPass(int max) {
        runs.maxRunsPerPass(max);
        return this;
    }

    /** Shows a progress bar on standard error while patching (default off). */
    public Patching progress(boolean on) {
        runs.progress(on);
        return this;
    }

    public PatchingMetric metric() {
        return metric;
    }

    /** The same patching with another metric (the runs' settings and cached activations are shared). */
    public Patching withMetric(PatchingMetric other) {
        Patching p = new Patching(model, clean, cleanCache, runs.input(), other, runs);
        p.cleanActs.putAll(cleanActs);
        return p;
    }

    /** The metric of the unpatched corrupted run. */
    public double corruptedValue() {
        return checked(metric.value(model.run(runs.input())), "the corrupted run");
    }

    /** The metric of the clean run (from the clean tokens, or the cache's {@code unembed.hook_out}). */
    public double cleanValue() {
        INDArray logits;
        if (clean != null) logits = model.run(clean);
        else if (cleanCache.contains("unembed.hook_out")) logits = cleanCache.get("unembed.hook_out");
        else
            throw new LoupeException("patching: the clean value needs the clean logits; cache unembed.hook_out in the "
                    + "clean run or give the clean tokens");
        return checked(metric.value(logits), "the clean run");
    }

    /**
     * This patching with the metric normalised by the unpatched runs ({@link
     * PatchingMetric#normalized}): 0 = corrupted, 1 = clean.
     */
    public Patching normalized() {
        return withMetric(PatchingMetric.normalized(metric, cleanValue(), corruptedValue()));
    }

    private double checked(double v, String run) {
        if (!Double.isFinite(v))
            throw new LoupeException("patching: metric " + metric.name() + " returned " + v + " for " + run);
        return v;
    }

    // ------------------------------------------------------------------ TransformerLens's patching functions

    /** {@code get_act_patch_resid_pre}: [layer, pos]. */
    public PatchResult residPre() {
        return generic("resid_pre", List.of("layer", "pos"), PatchSetter.LAYER_POS);
    }

    /** {@code get_act_patch_resid_mid}: [layer, pos]. */
    public PatchResult residMid() {
        return generic("resid_mid", List.of("layer", "pos"), PatchSetter.LAYER_POS);
    }

    /** The residual stream leaving each block: [layer, pos]. */
    public PatchResult residPost() {
        return generic("resid_post", List.of("layer", "pos"), PatchSetter.LAYER_POS);
    }

    /** {@code get_act_patch_attn_out}: [layer, pos]. */
    public PatchResult attnOut() {
        return generic("attn_out", List.of("layer", "pos"), PatchSetter.LAYER_POS);
    }

    /** {@code get_act_patch_mlp_out}: [layer, pos]. */
    public PatchResult mlpOut() {
        return generic("mlp_out", List.of("layer", "pos"), PatchSetter.LAYER_POS);
    }

    /** {@code get_act_patch_attn_head_out_all_pos}: each head's z at every position, [layer, head]. */
    public PatchResult headOutAllPos() {
        return generic("z", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_out_by_pos}: [layer, pos, head]. */
    public PatchResult headOutByPos() {
        return generic("z", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_q_all_pos}: [layer, head]. */
    public PatchResult headQAllPos() {
        return generic("q", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_k_all_pos}: [layer, kv_head]. */
    public PatchResult headKAllPos() {
        return generic("k", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_v_all_pos}: [layer, kv_head]. */
    public PatchResult headVAllPos() {
        return generic("v", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_pattern_all_pos}: [layer, head]. */
    public PatchResult headPatternAllPos() {
        return generic("pattern", List.of("layer", "head_index"), PatchSetter.LAYER_HEAD_PATTERN);
    }

    /** {@code get_act_patch_attn_head_q_by_pos}: [layer, pos, head]. */
    public PatchResult headQByPos() {
        return generic("q", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_k_by_pos}: [layer, pos, kv_head]. */
    public PatchResult headKByPos() {
        return generic("k", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_v_by_pos}: [layer, pos, kv_head]. */
    public PatchResult headVByPos() {
        return generic("v", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR);
    }

    /** {@code get_act_patch_attn_head_pattern_by_pos}: [layer, head, dest_pos]. */
    public PatchResult headPatternByPos() {
        return generic("pattern", List.of("layer", "head_index", "dest_pos"), PatchSetter.LAYER_HEAD_POS_PATTERN);
    }

    /** {@code get_act_patch_attn_head_pattern_dest_src_pos}: [layer, head, dest_pos, src_pos]. */
    public PatchResult headPatternDestSrcPos() {
        return generic(
                "pattern",
                List.of("layer", "head_index", "dest_pos", "src_pos"),
                PatchSetter.LAYER_HEAD_DEST_SRC_POS_PATTERN);
    }

    /**
     * {@code get_act_patch_block_every}: resid_pre, attn_out and mlp_out by layer and position in one
     * sweep, [component, layer, pos] (attention-only models have no mlp_out: two components).
     */
    public PatchResult blockEvery() {
        List<Family> families = new ArrayList<>();
        families.add(family("resid_pre", List.of("layer", "pos"), PatchSetter.LAYER_POS));
        families.add(family("attn_out", List.of("layer", "pos"), PatchSetter.LAYER_POS));
        if (!cfg.attnOnly()) families.add(family("mlp_out", List.of("layer", "pos"), PatchSetter.LAYER_POS));
        return stacked(families, "block every");
    }

    /**
     * {@code get_act_patch_attn_head_all_pos_every}: each head's z, q, k, v and pattern at every
     * position, [component, layer, head] (k and v padded with 0 under grouped-query attention).
     */
    public PatchResult headAllPosEvery() {
        return stacked(
                List.of(
                        family("z", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR),
                        family("q", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR),
                        family("k", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR),
                        family("v", List.of("layer", "head"), PatchSetter.LAYER_HEAD_VECTOR),
                        family("pattern", List.of("layer", "head_index"), PatchSetter.LAYER_HEAD_PATTERN)),
                "head every");
    }

    /** {@code get_act_patch_attn_head_by_pos_every}: [component, layer, pos, head] for z, q, k, v, pattern. */
    public PatchResult headByPosEvery() {
        List<Family> fams = List.of(
                family("z", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR),
                family("q", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR),
                family("k", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR),
                family("v", List.of("layer", "pos", "head"), PatchSetter.LAYER_POS_HEAD_VECTOR),
                family("pattern", List.of("layer", "head_index", "dest_pos"), PatchSetter.LAYER_HEAD_POS_PATTERN));
        List<INDArray> parts = sweep(fams, "head by pos every");
        // the pattern comes as [layer, head, dest_pos]: to [layer, pos, head] as TransformerLens rearranges it
        parts.set(4, parts.get(4).permute(0, 2, 1).dup('c'));
        return stack(parts, List.of("z", "q", "k", "v", "pattern"), List.of("component", "layer", "pos", "head"));
    }

    /** One of {@link #TARGETS} by name (what {@code ./loupe patch --target} calls). */
    public PatchResult target(String name) {
        Map<String, Function<Patching, PatchResult>> byName = new LinkedHashMap<>();
        byName.put("resid_pre", Patching::residPre);
        byName.put("resid_mid", Patching::residMid);
        byName.put("resid_post", Patching::residPost);
        byName.put("attn_out", Patching::attnOut);
        byName.put("mlp_out", Patching::mlpOut);
        byName.put("head_z", Patching::headOutAllPos);
        byName.put("head_z_by_pos", Patching::headOutByPos);
        byName.put("head_q", Patching::headQAllPos);
        byName.put("head_k", Patching::headKAllPos);
        byName.put("head_v", Patching::headVAllPos);
        byName.put("head_pattern", Patching::headPatternAllPos);
        byName.put("head_q_by_pos", Patching::headQByPos);
        byName.put("head_k_by_pos", Patching::headKByPos);
        byName.put("head_v_by_pos", Patching::headVByPos);
        byName.put("head_pattern_by_pos", Patching::headPatternByPos);
        Function<Patching, PatchResult> f = byName.get(name);
        if (f == null)
            throw new LoupeException("patching: unknown target '" + name + "'; known: " + String.join(", ", TARGETS));
        return f.apply(this);
    }

    // ------------------------------------------------------------------ generic_activation_patch

    /**
     * TransformerLens's {@code generic_activation_patch} with {@code index_axis_names}: patches
     * {@code activation} (a short name: resid_pre, z, pattern, ...) at every index tuple of the
     * axes (the first is {@code layer}; the others {@code pos}, {@code head}/{@code head_index},
     * {@code dest_pos}, {@code src_pos}) with {@code setter}; the result has one axis per name.
     */
    public PatchResult generic(String activation, List<String> axes, PatchSetter setter) {
        Family f = family(activation, axes, setter);
        return new PatchResult(sweep(List.of(f), activation).get(0), axes, List.of(), metric.name());
    }

    /**
     * {@code generic_activation_patch} with an {@code index_df}: one patch per row of {@code
     * indices}, each an index tuple over {@code axes} (layer first), the result flattened to one
     * value per row (axis {@code patch}).
     */
    public PatchResult generic(String activation, List<String> axes, int[][] indices, PatchSetter setter) {
        Family f = family(activation, axes, setter);
        List<PatchedRuns.Run> list = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int[] index : indices) {
            if (index.length != axes.size())
                throw new LoupeException(
                        "patching: index " + Arrays.toString(index) + " does not match the axes " + axes);
            for (int a = 0; a < axes.size(); a++)
                if (index[a] < 0 || index[a] >= f.ranges()[a])
                    throw new LoupeException("patching: " + axes.get(a) + " " + index[a] + " is out of range 0.."
                            + (f.ranges()[a] - 1) + " (index " + Arrays.toString(index) + ")");
            list.add(run(hookName(activation, index[0]), index, setter));
            names.add(activation + " " + describe(axes, index));
        }
        cleanActivations(list);
        double[] values = runs.metrics(list, metric, "patch " + activation, names::get);
        return new PatchResult(Nd4j.createFromArray(values), List.of("patch"), List.of(), metric.name());
    }

    // ------------------------------------------------------------------ the sweep

    /** One family of patches: an activation, its index axes and ranges, and the setter. */
    private record Family(String activation, List<String> axes, int[] ranges, PatchSetter setter) {}

    private Family family(String activation, List<String> axes, PatchSetter setter) {
        if (axes.isEmpty() || !axes.get(0).equals("layer"))
            throw new LoupeException("patching: the first index axis must be 'layer', got " + axes);
        int T = runs.length();
        String shortName = HookNames.shortName(HookNames.actName(activation, 0));
        int heads = (shortName.equals("k") || shortName.equals("v")) ? cfg.nKvHeads() : cfg.nHeads();
        int[] ranges = new int[axes.size()];
        for (int a = 0; a < axes.size(); a++)
            ranges[a] = switch (axes.get(a)) {
                case "layer" -> cfg.nLayers();
                case "pos", "dest_pos", "src_pos" -> T;
                case "head", "head_index" -> heads;
                default -> throw new LoupeException("patching: unknown index axis '" + axes.get(a)
                        + "'; known: layer, pos, head, head_index, dest_pos, src_pos");
            };
        for (int l = 0; l < cfg.nLayers(); l++) hookName(activation, l); // exists in every layer
        return new Family(activation, axes, ranges, setter);
    }

    /** Runs every patch of every family in one batched sweep; one result array per family. */
    private List<INDArray> sweep(List<Family> families, String what) {
        List<PatchedRuns.Run> list = new ArrayList<>();
        List<String> names = new ArrayList<>();
        int[] start = new int[families.size() + 1];
        for (int f = 0; f < families.size(); f++) {
            Family fam = families.get(f);
            for (int[] index : product(fam.ranges())) {
                list.add(run(hookName(fam.activation(), index[0]), index, fam.setter()));
                names.add(fam.activation() + " " + describe(fam.axes(), index));
            }
            start[f + 1] = list.size();
        }
        cleanActivations(list);
        double[] values = runs.metrics(list, metric, "patch " + what, names::get);
        List<INDArray> out = new ArrayList<>();
        for (int f = 0; f < families.size(); f++) {
            long[] shape =
                    Arrays.stream(families.get(f).ranges()).asLongStream().toArray();
            out.add(Nd4j.createFromArray(Arrays.copyOfRange(values, start[f], start[f + 1]))
                    .reshape('c', shape));
        }
        return out;
    }

    private PatchResult stacked(List<Family> families, String what) {
        List<String> labels = families.stream().map(Family::activation).toList();
        List<String> axes = new ArrayList<>();
        axes.add("component");
        axes.addAll(families.get(0).axes());
        return stack(sweep(families, what), labels, axes);
    }

    /** Stacks results on a new first axis; smaller ones (k, v under grouped-query attention) padded with 0. */
    private PatchResult stack(List<INDArray> parts, List<String> labels, List<String> axes) {
        long[] shape = parts.get(0).shape();
        INDArray out = Nd4j.zeros(DataType.DOUBLE, concat(parts.size(), shape));
        for (int i = 0; i < parts.size(); i++) {
            INDArray p = parts.get(i);
            org.nd4j.linalg.indexing.INDArrayIndex[] idx = new org.nd4j.linalg.indexing.INDArrayIndex[shape.length + 1];
            idx[0] = org.nd4j.linalg.indexing.NDArrayIndex.point(i);
            for (int d = 0; d < shape.length; d++)
                idx[d + 1] = org.nd4j.linalg.indexing.NDArrayIndex.interval(0, p.size(d));
            out.get(idx).assign(p);
        }
        return new PatchResult(out, axes, labels, metric.name());
    }

    private static long[] concat(long first, long[] rest) {
        long[] s = new long[rest.length + 1];
        s[0] = first;
        System.arraycopy(rest, 0, s, 1, rest.length);
        return s;
    }

    private PatchedRuns.Run run(String hook, int[] index, PatchSetter setter) {
        int[] at = index.clone();
        return PatchedRuns.Run.of(
                at[0], new PatchedRuns.Edit(hook, rows -> setter.patch(rows, at, cleanActs.get(hook))));
    }

    /** Loads every clean activation the runs read: from the given cache, or one clean run. */
    private void cleanActivations(List<PatchedRuns.Run> list) {
        Set<String> needed = new LinkedHashSet<>();
        for (PatchedRuns.Run r : list) for (PatchedRuns.Edit e : r.edits()) needed.add(e.hook());
        needed.removeAll(cleanActs.keySet());
        if (needed.isEmpty()) return;
        if (cleanCache != null) {
            for (String n : needed) {
                if (!cleanCache.contains(n))
                    throw new LoupeException("patching: the clean cache has no '" + n + "'; cache it in the clean run");
                cleanActs.put(n, cleanCache.get(n));
            }
        } else {
            var r = model.runWithCache(clean, ActivationFilter.names(needed.toArray(String[]::new)));
            for (String n : needed) cleanActs.put(n, r.cache().get(n));
        }
        for (String n : needed) {
            INDArray a = cleanActs.get(n);
            int posAxis = n.endsWith("hook_pattern") || n.endsWith("hook_attn_scores") ? 2 : 1;
            if (a.size(0) != runs.batch() || a.rank() <= posAxis || a.size(posAxis) != runs.length())
                throw new LoupeException("patching: the clean '" + n + "' is " + Arrays.toString(a.shape())
                        + " but the corrupted prompts are [" + runs.batch() + ", " + runs.length() + "]");
        }
    }

    private String hookName(String activation, int layer) {
        String full = HookNames.actName(activation, layer);
        if (!model.hookNames().contains(full))
            throw new LoupeException(
                    "patching: this model has no hook point '" + full + "' to patch (activation '" + activation + "')");
        return full;
    }

    private static String describe(List<String> axes, int[] index) {
        StringBuilder s = new StringBuilder();
        for (int a = 0; a < axes.size(); a++)
            s.append(a == 0 ? "" : ", ").append(axes.get(a)).append(' ').append(index[a]);
        return s.toString();
    }

    /** Every index tuple of the ranges, the last axis fastest (itertools.product's order). */
    static List<int[]> product(int[] ranges) {
        List<int[]> out = new ArrayList<>();
        int[] idx = new int[ranges.length];
        for (int r : ranges) if (r == 0) return out;
        while (true) {
            out.add(idx.clone());
            int a = ranges.length - 1;
            while (a >= 0 && ++idx[a] == ranges[a]) idx[a--] = 0;
            if (a < 0) return out;
        }
    }
}
