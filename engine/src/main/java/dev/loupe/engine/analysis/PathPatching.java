package dev.loupe.engine.analysis;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Path patching (Wang et al. 2022, "Interpretability in the Wild", the IOI paper): the effect of
 * sender heads only along the paths that go straight into chosen receivers — the queries, keys or
 * values of receiver heads, or the residual stream at the end — with every other path held at the
 * corrupted run's values. As {@link Patching}, the corrupted prompts run and the senders carry the
 * clean run's output:
 * <ol>
 *   <li>run the corrupted prompts with the senders' z from the clean run and every other head's z
 *       (and, with {@link #freezeMlps}, every MLP's output) frozen at the corrupted run's; the
 *       receivers' inputs now differ from the corrupted run's only through the direct paths;</li>
 *   <li>run the corrupted prompts again with just the receivers' q/k/v replaced by those of
 *       step 1, everything else computed freely, and score the logits.</li>
 * </ol>
 * With the final residual as receiver, step 1's own logits are scored. Sweeps over sender heads
 * run batched, as activation patching does.
 */
public final class PathPatching {
    private final HookedTransformer model;
    private final ModelConfig cfg;
    private final Tokens clean;
    private final PatchingMetric metric;
    private final PatchedRuns runs;
    private boolean freezeMlps = true;
    private ActivationCache cleanCache, corruptedCache;

    private PathPatching(HookedTransformer model, Tokens clean, Tokens corrupted, PatchingMetric metric) {
        this.model = model;
        this.cfg = model.config();
        this.clean = clean;
        this.metric = metric;
        this.runs = new PatchedRuns(model, corrupted);
    }

    /** Clean and corrupted prompts, [batch, pos] alike, and the metric of the patched runs. */
    public static PathPatching of(HookedTransformer model, Tokens clean, Tokens corrupted, PatchingMetric metric) {
        PatchedRuns.checkPair("path patching", clean, corrupted);
        metric.check(model.config(), corrupted);
        return new PathPatching(model, clean, corrupted, metric);
    }

    /**
     * Whether step 1 also freezes every MLP's output at its corrupted value (default true: only the
     * direct paths count). False lets MLPs recompute, so paths sender → MLP → receiver count too
     * (as ARENA's IOI exercises do).
     */
    public PathPatching freezeMlps(boolean on) {
        freezeMlps = on;
        return this;
    }

    /** Memory for the activations of one batched pass (default 1 GiB). */
    public PathPatching memoryBudget(long bytes) {
        runs.memoryBudget(bytes);
        return this;
    }

    /** At most this many patched runs per pass (1: one at a time). */
    public PathPatching runsPerPass(int max) {
        runs.maxRunsPerPass(max);
        return this;
    }

    /**
     * The metric when {@code senders} act only through the {@code inputs} ("q", "k", "v") of the
     * {@code receivers} (heads of later layers than every sender; for k and v, key/value heads).
     */
    public double toHeads(List<Head> senders, List<Head> receivers, String... inputs) {
        return toHeadsEach(List.of(senders), receivers, inputs)[0];
    }

    /** The metric when {@code senders} act only through their direct paths to the final residual stream. */
    public double toResid(List<Head> senders) {
        return toResidEach(List.of(senders))[0];
    }

    /** Every single head of the layers below the receivers as the sender, [layer, head] (0 where no path exists). */
    public PatchResult sweepToHeads(List<Head> receivers, String... inputs) {
        int below = receivers.stream().mapToInt(Head::layer).min().orElse(0);
        List<List<Head>> senders = new ArrayList<>();
        for (int l = 0; l < below; l++) for (int h = 0; h < cfg.nHeads(); h++) senders.add(List.of(Head.of(l, h)));
        double[] values = toHeadsEach(senders, receivers, inputs);
        double[] grid = new double[cfg.nLayers() * cfg.nHeads()];
        System.arraycopy(values, 0, grid, 0, values.length);
        return sweepResult(grid);
    }

    /** Every single head as the sender, its direct paths to the final residual stream: [layer, head]. */
    public PatchResult sweepToResid() {
        List<List<Head>> senders = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++)
            for (int h = 0; h < cfg.nHeads(); h++) senders.add(List.of(Head.of(l, h)));
        return sweepResult(toResidEach(senders));
    }

    private PatchResult sweepResult(double[] grid) {
        return new PatchResult(
                Nd4j.createFromArray(grid).reshape('c', cfg.nLayers(), cfg.nHeads()),
                List.of("layer", "head"),
                List.of(),
                metric.name());
    }

    // ------------------------------------------------------------------ the two steps

    /** {@link #toHeads} for many sender sets at once (batched): one value per set. */
    public double[] toHeadsEach(List<List<Head>> senderSets, List<Head> receivers, String... inputs) {
        if (receivers.isEmpty()) throw new LoupeException("path patching: no receiver heads given");
        if (inputs.length == 0) throw new LoupeException("path patching: name the receivers' inputs: q, k and/or v");
        Set<String> ins = new LinkedHashSet<>(List.of(inputs));
        for (String in : ins)
            if (!in.equals("q") && !in.equals("k") && !in.equals("v"))
                throw new LoupeException("path patching: receiver input '" + in + "' must be q, k or v");
        int firstReceiver = Integer.MAX_VALUE, lastReceiver = 0;
        for (Head r : receivers) {
            for (String in : ins) checkHead(r, "receiver (" + in + ")", in.equals("q") ? cfg.nHeads() : cfg.nKvHeads());
            firstReceiver = Math.min(firstReceiver, r.layer());
            lastReceiver = Math.max(lastReceiver, r.layer());
        }
        for (List<Head> set : senderSets)
            for (Head s : set) {
                checkHead(s, "sender", cfg.nHeads());
                if (s.layer() >= firstReceiver)
                    throw new LoupeException("path patching: sender " + s + " is not below every receiver (the first"
                            + " receiver is in layer " + firstReceiver + "); no path runs from it to them");
            }
        // Step 1: senders clean, everything else frozen; keep the receivers' inputs.
        List<String> receiverHooks = new ArrayList<>();
        for (Head r : receivers)
            for (String in : ins) {
                String hook = "blocks." + r.layer() + ".attn.hook_" + in;
                if (!receiverHooks.contains(hook)) receiverHooks.add(hook);
            }
        List<PatchedRuns.Run> frozen = new ArrayList<>();
        for (List<Head> set : senderSets) frozen.add(frozenRun(set, lastReceiver));
        List<Map<String, INDArray>> captured = new ArrayList<>();
        for (int i = 0; i < senderSets.size(); i++) captured.add(new HashMap<>());
        runs.run(
                frozen,
                ActivationFilter.names(receiverHooks.toArray(String[]::new)),
                "path patching, step 1",
                (ids, r) -> {
                    for (int k = 0; k < ids.size(); k++)
                        for (String hook : receiverHooks)
                            captured.get(ids.get(k))
                                    .put(hook, runs.rows(r.cache().get(hook), k).dup());
                });
        // Step 2: only the receivers' inputs replaced.
        List<PatchedRuns.Run> patched = new ArrayList<>();
        for (int i = 0; i < senderSets.size(); i++) {
            Map<String, INDArray> values = captured.get(i);
            List<PatchedRuns.Edit> edits = new ArrayList<>();
            for (Head r : receivers)
                for (String in : ins) {
                    String hook = "blocks." + r.layer() + ".attn.hook_" + in;
                    int h = r.head();
                    edits.add(new PatchedRuns.Edit(hook, rows -> rows.get(all(), all(), point(h))
                            .assign(values.get(hook).get(all(), all(), point(h)))));
                }
            patched.add(new PatchedRuns.Run(firstReceiver, edits));
        }
        return runs.metrics(patched, metric, "path patching, step 2", i -> "senders " + senderSets.get(i));
    }

    /** {@link #toResid} for many sender sets at once (batched): one value per set. */
    public double[] toResidEach(List<List<Head>> senderSets) {
        List<PatchedRuns.Run> frozen = new ArrayList<>();
        for (List<Head> set : senderSets) {
            for (Head s : set) checkHead(s, "sender", cfg.nHeads());
            frozen.add(frozenRun(set, cfg.nLayers()));
        }
        return runs.metrics(frozen, metric, "path patching to the residual", i -> "senders " + senderSets.get(i));
    }

    /**
     * Step 1 for one sender set: in the blocks from the first sender's up to (not including) block
     * {@code until}, every head's z frozen at its corrupted value but the senders' at their clean
     * value, and (with {@link #freezeMlps}) every MLP output at its corrupted value.
     */
    private PatchedRuns.Run frozenRun(List<Head> senders, int until) {
        if (senders.isEmpty()) throw new LoupeException("path patching: an empty set of sender heads");
        caches();
        int start = senders.stream().mapToInt(Head::layer).min().orElseThrow();
        List<PatchedRuns.Edit> edits = new ArrayList<>();
        for (int l = start; l < until; l++) {
            String z = "blocks." + l + ".attn.hook_z";
            INDArray corruptZ = corruptedCache.get(z), cleanZ = cleanCache.get(z);
            int layer = l;
            List<Integer> here = senders.stream()
                    .filter(s -> s.layer() == layer)
                    .map(Head::head)
                    .toList();
            edits.add(new PatchedRuns.Edit(z, rows -> {
                rows.assign(corruptZ);
                for (int h : here) rows.get(all(), all(), point(h)).assign(cleanZ.get(all(), all(), point(h)));
            }));
            if (freezeMlps && !cfg.attnOnly()) {
                String mlp = "blocks." + l + ".hook_mlp_out";
                INDArray corruptMlp = corruptedCache.get(mlp);
                edits.add(new PatchedRuns.Edit(mlp, rows -> rows.assign(corruptMlp)));
            }
        }
        return new PatchedRuns.Run(start, edits);
    }

    private void caches() {
        if (cleanCache != null) return;
        ActivationFilter zs = ActivationFilter.matching(n -> n.endsWith("attn.hook_z"));
        cleanCache = model.runWithCache(clean, zs).cache();
        corruptedCache = model.runWithCache(
                        runs.input(),
                        ActivationFilter.matching(n -> n.endsWith("attn.hook_z") || n.endsWith("hook_mlp_out")))
                .cache();
    }

    private void checkHead(Head h, String role, int heads) {
        if (h.layer() >= cfg.nLayers())
            throw new LoupeException("path patching: " + role + " " + h + ": layer " + h.layer()
                    + " is out of range 0.." + (cfg.nLayers() - 1));
        if (h.head() >= heads)
            throw new LoupeException(
                    "path patching: " + role + " " + h + ": head " + h.head() + " is out of range 0.." + (heads - 1));
    }
}
