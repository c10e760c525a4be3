package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Runs many patched copies of one input (the corrupted prompts) at once: the copies of a pass are
 * stacked on the batch axis, each edited in place by its own hooks, as many per pass as a memory
 * budget allows. A copy whose first edit is in block {@code l} starts at block {@code l} from the
 * input's own {@code resid_pre} (nothing before its first edit differs from the unpatched run), so
 * the blocks below are computed once rather than once per copy. Every copy gives exactly what it
 * gives alone: the rows of a batch do not mix.
 */
final class PatchedRuns {

    /** One edit of a patched run: at hook point {@code hook}, {@code write} changes this run's rows in place. */
    record Edit(String hook, Consumer<INDArray> write) {}

    /** One patched run: its edits, in blocks {@code startLayer} and above. */
    record Run(int startLayer, List<Edit> edits) {
        Run {
            edits = List.copyOf(edits);
        }

        static Run of(int startLayer, Edit... edits) {
            return new Run(startLayer, List.of(edits));
        }
    }

    /** What one pass gives back: which runs it held, and its result (run {@code k} of the pass is rows {@code k*b..}). */
    interface PassResults {
        void accept(List<Integer> runs, ForwardResult result);
    }

    private final HookedTransformer model;
    private final Tokens input;
    private final int b, T;
    private long budgetBytes = 1L << 30;
    private int maxRunsPerPass = Integer.MAX_VALUE;
    private boolean progress;
    private INDArray[] residPre; // the input's resid_pre of each block, [b, T, d_model]

    /** Clean and corrupted prompts must have the same batch and length ({@code what} names the tool in errors). */
    static void checkPair(String what, Tokens clean, Tokens corrupted) {
        if (clean.batch() != corrupted.batch() || clean.length() != corrupted.length())
            throw new LoupeException(what + ": clean tokens are [" + clean.batch() + ", " + clean.length()
                    + "] but corrupted tokens are [" + corrupted.batch() + ", " + corrupted.length()
                    + "]; they must have the same batch and length");
    }

    PatchedRuns(HookedTransformer model, Tokens input) {
        if (input.padded())
            throw new LoupeException("patching: padded prompts are not supported; give prompts of equal length");
        this.model = model;
        this.input = input;
        this.b = input.batch();
        this.T = input.length();
    }

    void memoryBudget(long bytes) {
        if (bytes < 1) throw new LoupeException("patching: the memory budget must be >= 1 byte, got " + bytes);
        budgetBytes = bytes;
    }

    void maxRunsPerPass(int max) {
        if (max < 1) throw new LoupeException("patching: runs per pass must be >= 1, got " + max);
        maxRunsPerPass = max;
    }

    void progress(boolean on) {
        progress = on;
    }

    /** The metric of each run, in order. */
    double[] metrics(List<Run> runs, PatchingMetric metric, String what, java.util.function.IntFunction<String> name) {
        double[] out = new double[runs.size()];
        run(runs, ActivationFilter.none(), metric.readsLastPositionOnly(), what, (ids, r) -> {
            INDArray logits = r.logits();
            for (int k = 0; k < ids.size(); k++) {
                double v = metric.value(rows(logits, k));
                if (!Double.isFinite(v))
                    throw new LoupeException("patching: metric " + metric.name() + " returned " + v + " for "
                            + name.apply(ids.get(k)) + "; it must return a finite number");
                out[ids.get(k)] = v;
            }
        });
        return out;
    }

    /** Runs every run, in passes of runs with the same start block, handing each pass's result to {@code sink}. */
    void run(List<Run> runs, ActivationFilter cache, String what, PassResults sink) {
        run(runs, cache, false, what, sink);
    }

    /** {@link #run(List, ActivationFilter, String, PassResults)}; with {@code lastLogits}, logits of the last position only. */
    void run(List<Run> runs, ActivationFilter cache, boolean lastLogits, String what, PassResults sink) {
        Map<Integer, List<Integer>> byStart = new java.util.TreeMap<>();
        for (int i = 0; i < runs.size(); i++)
            byStart.computeIfAbsent(runs.get(i).startLayer(), k -> new ArrayList<>())
                    .add(i);
        int perPass = runsPerPass(cache, lastLogits);
        try (ProgressBar bar = progress ? ProgressBar.onStderr(what, 0, runs.size(), "runs") : ProgressBar.silent()) {
            int done = 0;
            for (var group : byStart.entrySet()) {
                List<Integer> ids = group.getValue();
                for (int from = 0; from < ids.size(); from += perPass) {
                    List<Integer> pass = ids.subList(from, Math.min(ids.size(), from + perPass));
                    try (ForwardResult r = pass(group.getKey(), pass, runs, cache, lastLogits)) {
                        sink.accept(pass, r);
                    }
                    done += pass.size();
                    bar.update(done, "");
                }
            }
        }
    }

    /** Rows {@code k*b .. (k+1)*b} of a batched activation: run {@code k} of a pass, as a view. */
    INDArray rows(INDArray batched, int k) {
        INDArrayIndex[] idx = new INDArrayIndex[batched.rank()];
        Arrays.fill(idx, NDArrayIndex.all());
        idx[0] = NDArrayIndex.interval((long) k * b, (long) (k + 1) * b);
        return batched.get(idx);
    }

    /** The input's own {@code resid_pre} of block {@code layer}, [b, T, d_model]. */
    INDArray residPre(int layer) {
        if (residPre == null) {
            int L = model.config().nLayers();
            String[] names = new String[L];
            for (int l = 0; l < L; l++) names[l] = "blocks." + l + ".hook_resid_pre";
            ForwardResult r = model.runWithCache(input, ActivationFilter.names(names));
            residPre = new INDArray[L];
            for (int l = 0; l < L; l++) residPre[l] = r.cache().get(names[l]);
        }
        return residPre[layer];
    }

    private ForwardResult pass(
            int start, List<Integer> ids, List<Run> runs, ActivationFilter cache, boolean lastLogits) {
        int n = ids.size();
        int[][] ids2 = new int[n * b][];
        for (int k = 0; k < n; k++) for (int j = 0; j < b; j++) ids2[k * b + j] = input.ids()[j];
        ForwardRequest.Builder req =
                ForwardRequest.of(Tokens.of(ids2)).cache(cache).lastPositionLogits(lastLogits);
        if (start > 0) req.startAtLayer(start, Nd4j.tile(residPre(start), n, 1, 1));
        // One hook per hook point, which edits the rows of every run of this pass that patches there.
        Map<String, List<int[]>> editsAt = new LinkedHashMap<>(); // hook -> (run in pass, edit index)
        for (int k = 0; k < n; k++) {
            List<Edit> edits = runs.get(ids.get(k)).edits();
            for (int e = 0; e < edits.size(); e++)
                editsAt.computeIfAbsent(edits.get(e).hook(), h -> new ArrayList<>())
                        .add(new int[] {k, e});
        }
        List<Hook> hooks = new ArrayList<>();
        editsAt.forEach((hook, at) -> hooks.add(Hook.forward(hook, (act, point) -> {
            for (int[] ke : at) // in place: no copy of the activation
            runs.get(ids.get(ke[0])).edits().get(ke[1]).write().accept(rows(act, ke[0]));
            return null;
        })));
        return model.forward(req.hooks(hooks).build());
    }

    /**
     * How many runs fit the budget in one pass: a run holds about b * T positions of the widest
     * activations of a block (residual copies, MLP hidden, attention scores) plus its logits and
     * whatever the cache keeps.
     */
    private int runsPerPass(ActivationFilter cache, boolean lastLogits) {
        ModelConfig c = model.config();
        long perPosition = (lastLogits ? 0 : c.dVocab())
                + 8L * c.dModel()
                + 3L * (c.attnOnly() ? 0 : c.dMlp())
                + 4L * c.nHeads() * c.dHead()
                + 3L * c.nHeads() * T
                + 4L * c.dModel(); // what a cache may keep
        long perRun = Math.max(
                1,
                (perPosition * T + (lastLogits ? c.dVocab() : 0))
                        * b
                        * (c.dtype().equals("float64") ? 8 : 4));
        return (int) Math.max(1, Math.min(maxRunsPerPass, budgetBytes / perRun));
    }

    Tokens input() {
        return input;
    }

    int batch() {
        return b;
    }

    int length() {
        return T;
    }
}
