package dev.loupe.saes.dashboard;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.saes.Sae;
import dev.loupe.saes.TopKSae;
import dev.loupe.saes.kernels.SparseCodes;
import dev.loupe.store.read.ActivationStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Computes {@link FeatureDashboard}s from an activations store, as sae_vis and SAEDashboard do: one pass
 * over the store's rows in order, encoding them with the SAE, keeping per feature its largest activations
 * (a heap), a uniform sample of its nonzero activations (a reservoir, for the histogram and the interval
 * examples), its count, sum and maximum; then each chosen row's context is read back from the store
 * (token ids of its sequence around it) and re-encoded for per-token activations. Memory: the heaps and
 * reservoirs, whatever the store's size.
 */
public final class FeatureDashboards {
    private FeatureDashboards() {}

    /**
     * Dashboards of {@code features} of {@code sae} over the store's rows of the SAE's hook. {@code model}
     * (for logit effects through {@code W_U}) and {@code tokenizer} (token text; ids otherwise) may be null.
     */
    public static List<FeatureDashboard> compute(
            Sae sae,
            ActivationStore store,
            int[] features,
            DashboardConfig config,
            HookedTransformer model,
            Tokenizer tokenizer,
            ProgressBar progress) {
        String hook = sae.config().hookName();
        if (hook == null) throw new LoupeException("the SAE (" + sae.config().describe() + ") has no hook_name");
        int d = store.d(hook);
        if (d != sae.config().dIn())
            throw new LoupeException("the store's hook '" + hook + "' has rows of " + d + " but the SAE's d_in is "
                    + sae.config().dIn() + " (" + store.dir() + ")");
        int dSae = sae.config().dSae();
        int[] slot = new int[dSae];
        Arrays.fill(slot, -1);
        Tracker[] trackers = new Tracker[features.length];
        for (int i = 0; i < features.length; i++) {
            int f = features[i];
            if (f < 0 || f >= dSae) throw new LoupeException("feature " + f + " is outside [0, " + dSae + ")");
            if (slot[f] >= 0) throw new LoupeException("feature " + f + " is listed twice");
            slot[f] = i;
            trackers[i] = new Tracker(config, new SplittableRandom(config.seed() * 31 + f));
        }
        long total = config.maxRows() > 0 ? Math.min(config.maxRows(), store.rows()) : store.rows();
        for (long from = 0; from < total; from += config.batchRows()) {
            int n = (int) Math.min(config.batchRows(), total - from);
            INDArray x = store.rows(hook, from, n);
            if (sae instanceof TopKSae topk) {
                SparseCodes codes = topk.encodeSparse(x);
                int[] start = codes.rowStart(), idx = codes.index();
                float[] val = codes.value();
                for (int b = 0; b < n; b++)
                    for (int e = start[b]; e < start[b + 1]; e++)
                        if (slot[idx[e]] >= 0 && val[e] > 0) trackers[slot[idx[e]]].add(val[e], from + b);
            } else {
                INDArray acts = sae.encode(x).getColumns(features).castTo(DataType.FLOAT); // [n, F]
                float[] flat = acts.dup('c').data().asFloat();
                for (int b = 0; b < n; b++)
                    for (int i = 0; i < features.length; i++) {
                        float v = flat[b * features.length + i];
                        if (v > 0) trackers[i].add(v, from + b);
                    }
            }
            for (Tracker t : trackers) t.rows += n;
            progress.update(from + n, "");
        }
        INDArray logits = logitEffects(sae, model); // [d_sae... only rows of the features] or null
        List<FeatureDashboard> out = new ArrayList<>();
        for (int i = 0; i < features.length; i++) {
            int f = features[i];
            Tracker t = trackers[i];
            List<FeatureDashboard.Example> top = new ArrayList<>();
            List<Tracker.Hit> sorted = new ArrayList<>(t.top);
            sorted.sort(
                    Comparator.comparingDouble(Tracker.Hit::value).reversed().thenComparingLong(Tracker.Hit::row));
            for (Tracker.Hit h : sorted) top.add(example(sae, store, hook, f, h.row(), h.value(), config, tokenizer));
            List<FeatureDashboard.Interval> intervals = intervals(sae, store, hook, f, t, config, tokenizer);
            List<FeatureDashboard.TokenEffect> up = new ArrayList<>(), down = new ArrayList<>();
            if (logits != null) effects(logits.getRow(f), config.logitTokens(), tokenizer, up, down);
            out.add(new FeatureDashboard(
                    f,
                    t.rows == 0 ? 0 : t.count / (double) t.rows,
                    t.count == 0 ? 0 : t.max,
                    t.count == 0 ? 0 : t.sum / t.count,
                    t.histogram(config.bins()),
                    top,
                    intervals,
                    up,
                    down,
                    t.rows));
        }
        return out;
    }

    /**
     * The direct logit effect of each latent's decoder direction [d_sae, d_vocab] when the hook's width is
     * d_model (the residual stream), else null: {@code W_dec @ W_U} read through the final normalization as
     * sae_vis reads it on a TransformerLens model with {@code fold_ln} (the direction centred when the norm
     * centres, scaled by {@code ln_final.w}), so the ranking is that of the tokens a large steer raises.
     */
    static INDArray logitEffects(Sae sae, HookedTransformer model) {
        if (model == null || sae.config().dIn() != model.config().dModel()) return null;
        String hook = sae.config().hookName();
        if (hook != null
                && !(hook.contains("resid") || hook.endsWith("hook_attn_out") || hook.endsWith("hook_mlp_out")))
            return null;
        var sd = model.stateDict();
        INDArray wU = sd.containsKey("unembed.W_U")
                ? sd.get("unembed.W_U")
                : sd.get("embed.W_E").transpose();
        INDArray directions = sae.W_dec().castTo(DataType.FLOAT); // [d_sae, d_model]
        if (model.config().normalization().centers())
            directions = directions.subColumnVector(directions.mean(1).reshape(-1, 1));
        INDArray lnW = sd.get("ln_final.w"); // [d_model]; absent when folded into W_U or without a norm
        if (lnW != null) directions = directions.mulRowVector(lnW.castTo(DataType.FLOAT));
        return directions.mmul(wU.castTo(DataType.FLOAT));
    }

    private static void effects(
            INDArray row,
            int n,
            Tokenizer tokenizer,
            List<FeatureDashboard.TokenEffect> up,
            List<FeatureDashboard.TokenEffect> down) {
        double[] v = row.toDoubleVector();
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingDouble(i -> -v[i]));
        for (int i = 0; i < Math.min(n, v.length); i++)
            up.add(new FeatureDashboard.TokenEffect(order[i], text(tokenizer, order[i]), v[order[i]]));
        for (int i = 0; i < Math.min(n, v.length); i++) {
            int t = order[v.length - 1 - i];
            down.add(new FeatureDashboard.TokenEffect(t, text(tokenizer, t), v[t]));
        }
    }

    private static List<FeatureDashboard.Interval> intervals(
            Sae sae,
            ActivationStore store,
            String hook,
            int f,
            Tracker t,
            DashboardConfig config,
            Tokenizer tokenizer) {
        List<FeatureDashboard.Interval> out = new ArrayList<>();
        if (t.count == 0) return out;
        int k = config.intervals();
        for (int q = 0; q < k; q++) {
            double lo = t.max * q / k, hi = q == k - 1 ? Math.nextUp(t.max) : t.max * (q + 1) / k;
            List<FeatureDashboard.Example> ex = new ArrayList<>();
            long inSample = 0;
            for (int i = 0; i < t.filled; i++) {
                double v = t.sampleValue[i];
                if (v >= lo && v < hi) {
                    inSample++;
                    if (ex.size() < config.examplesPerInterval())
                        ex.add(example(sae, store, hook, f, t.sampleRow[i], v, config, tokenizer));
                }
            }
            // the sample is uniform over the feature's nonzero activations: scale its counts to all of them
            long estimated = Math.round(inSample * (double) t.count / Math.max(1, t.filled));
            out.add(new FeatureDashboard.Interval(lo, hi, estimated, ex));
        }
        return out;
    }

    /** The context of {@code row}: its sequence's tokens from {@code before} ahead to {@code after} later. */
    static FeatureDashboard.Example example(
            Sae sae,
            ActivationStore store,
            String hook,
            int f,
            long row,
            double value,
            DashboardConfig config,
            Tokenizer tokenizer) {
        int position = store.positions(row, 1)[0];
        long sequence = store.sequences(row, 1)[0];
        long seqStart = row - position;
        long seqEnd = seqStart + store.manifest().contextSize(); // exclusive
        long from = Math.max(seqStart, row - config.before()), to = Math.min(seqEnd, row + config.after() + 1);
        int count = (int) (to - from);
        int[] ids = store.tokens(from, count);
        INDArray acts = sae.encode(store.rows(hook, from, count)); // [count, d_sae]
        double[] values = acts.getColumn(f).castTo(DataType.DOUBLE).toDoubleVector();
        List<String> tokens = new ArrayList<>();
        for (int id : ids) tokens.add(text(tokenizer, id));
        return new FeatureDashboard.Example(row, sequence, position, value, tokens, values, (int) (row - from));
    }

    static String text(Tokenizer tokenizer, int id) {
        if (tokenizer == null) return Integer.toString(id);
        return tokenizer.toStrTokens(new int[] {id}).get(0);
    }

    /** One feature's running statistics over the pass. */
    private static final class Tracker {
        record Hit(double value, long row) {}

        final PriorityQueue<Hit> top =
                new PriorityQueue<>(Comparator.comparingDouble(Hit::value).thenComparingLong(h -> -h.row()));
        final int topN;
        final double[] sampleValue;
        final long[] sampleRow;
        final SplittableRandom rng;
        int filled;
        long count, rows;
        double sum, max;

        Tracker(DashboardConfig config, SplittableRandom rng) {
            this.topN = config.topExamples();
            this.sampleValue = new double[config.sample()];
            this.sampleRow = new long[config.sample()];
            this.rng = rng;
        }

        void add(double v, long row) {
            count++;
            sum += v;
            if (v > max) max = v;
            if (top.size() < topN) top.add(new Hit(v, row));
            else if (v > top.peek().value()) {
                top.poll();
                top.add(new Hit(v, row));
            }
            if (filled < sampleValue.length) {
                sampleValue[filled] = v;
                sampleRow[filled++] = row;
            } else {
                long j = rng.nextLong(count); // Algorithm R: keep the count-th value with probability size/count
                if (j < sampleValue.length) {
                    sampleValue[(int) j] = v;
                    sampleRow[(int) j] = row;
                }
            }
        }

        FeatureDashboard.Histogram histogram(int bins) {
            double[] edges = new double[bins + 1];
            long[] counts = new long[bins];
            double hi = max > 0 ? max : 1;
            for (int i = 0; i <= bins; i++) edges[i] = hi * i / bins;
            for (int i = 0; i < filled; i++) counts[Math.min(bins - 1, (int) (sampleValue[i] / hi * bins))]++;
            if (filled < count) // the sample is uniform: scale its counts to every nonzero activation
            for (int i = 0; i < bins; i++) counts[i] = Math.round(counts[i] * (double) count / filled);
            return new FeatureDashboard.Histogram(edges, counts);
        }
    }
}
