package dev.loupe.spark.stats;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.saes.dashboard.FeatureDashboard;
import dev.loupe.spark.ExecutorResources;
import dev.loupe.spark.TaskResults;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per-feature statistics of a store under an encoder, on Spark: density, mean and max activation, an
 * exact histogram, and the top-k activating rows with their context windows, for every feature.
 * Three jobs of one task per shard (a shard holds whole sequences, so a context window never leaves
 * its shard's task):
 * <ol>
 *   <li>totals: each task encodes its rows in batches and keeps per feature its count, sum, max and
 *       top-k rows ({@link FeatureTotals}); the driver merges them in shard order (a top-k merge);</li>
 *   <li>histograms: with each feature's max known, each task counts its activations into the
 *       feature's bins over (0, max]; the driver adds the counts;</li>
 *   <li>contexts: the tasks of the shards holding top rows read each row's window (tokens, and the
 *       feature's activations over it, from one encoding per window).</li>
 * </ol>
 * The store is read twice, plus the windows. Results do not depend on how shards are spread over
 * executors: merges run in shard order and the top rows' order is total.
 */
public final class FeatureStatsJob {
    private FeatureStatsJob() {}

    /** A shard's rows: the unit of work. */
    record Shard(int index, long firstRow, long rows) implements Serializable {}

    /**
     * Starts a Spark context on {@code master} ({@link dev.loupe.spark.SparkContexts#start}), computes
     * every feature's statistics, writes them into {@code out} ({@link FeatureStatsFiles}) and stops the
     * context: the command line's {@code store features}.
     */
    public static FeatureStatsFiles.Header run(
            String master,
            Map<String, String> settings,
            Path store,
            FeatureEncoder encoder,
            FeatureStatsConfig cfg,
            Tokenizer tokenizer,
            Path out,
            ProgressBar progress) {
        JavaSparkContext sc =
                dev.loupe.spark.SparkContexts.start(master, "loupe feature statistics " + store, settings);
        try {
            List<FeatureDashboard> stats = run(sc, store, encoder, cfg, tokenizer, progress);
            return FeatureStatsFiles.write(out, store, encoder, cfg, stats);
        } finally {
            sc.stop();
        }
    }

    /**
     * The statistics of every feature of {@code encoder} over the store in {@code store} (a folder
     * every executor reaches). {@code tokenizer} turns the windows' token ids into text (ids when null).
     */
    public static List<FeatureDashboard> run(
            JavaSparkContext sc,
            Path store,
            FeatureEncoder encoder,
            FeatureStatsConfig cfg,
            Tokenizer tokenizer,
            ProgressBar progress) {
        String dir = store.toAbsolutePath().normalize().toString();
        StoreManifest m = StoreManifest.read(store);
        if (!m.hookNames().contains(encoder.hook()))
            throw new LoupeException(store + " has no hook " + encoder.hook() + ", which " + encoder.describe()
                    + " reads; it holds " + String.join(", ", m.hookNames()));
        if (m.d(encoder.hook()) != encoder.dIn())
            throw new LoupeException(store + ": hook " + encoder.hook() + " has rows of " + m.d(encoder.hook())
                    + ", the encoder (" + encoder.describe() + ") takes " + encoder.dIn());
        List<Shard> shards = new ArrayList<>();
        for (StoreManifest.ShardInfo s : m.shards()) shards.add(new Shard(s.index(), s.firstRow(), s.rows()));
        int features = encoder.features();

        // 1. totals, merged in shard order
        FeatureTotals totals = new FeatureTotals(features, cfg.topK());
        long done = 0;
        try (TaskResults<FeatureTotals> job = TaskResults.start(
                sc,
                shards,
                (context, shard) -> totals(dir, encoder, cfg, shard),
                FeatureTotals.class,
                "loupe feature totals of " + store)) {
            for (FeatureTotals t = job.next(); t != null; t = job.next()) {
                totals.merge(t);
                progress.update(done += t.rows, "totals");
            }
        }

        // 2. histograms over (0, max] per feature
        float[] max = totals.max;
        long[] counts = new long[features * cfg.bins()];
        try (TaskResults<long[]> job = TaskResults.start(
                sc,
                shards,
                (context, shard) -> histograms(dir, encoder, cfg, shard, max),
                long[].class,
                "loupe feature histograms of " + store)) {
            int i = 0;
            for (long[] c = job.next(); c != null; c = job.next()) {
                for (int j = 0; j < c.length; j++) counts[j] += c[j];
                progress.update(done += shards.get(i++).rows(), "histograms");
            }
        }

        // 3. the top rows' context windows, read by the tasks of their shards
        TreeMap<Integer, List<long[]>> wanted = new TreeMap<>(); // shard -> (feature, row) pairs
        ActivationStoreIndex index = new ActivationStoreIndex(m);
        for (int f = 0; f < features; f++)
            for (FeatureTotals.Hit h : totals.top(f))
                wanted.computeIfAbsent(index.shardOf(h.row()), s -> new ArrayList<>())
                        .add(new long[] {f, h.row()});
        List<WindowRequest> requests = new ArrayList<>();
        wanted.forEach((s, hits) -> requests.add(new WindowRequest(s, hits)));
        Map<Long, Window> windows = new HashMap<>(); // by feature * rows + row
        try (TaskResults<Window[]> job = TaskResults.start(
                sc,
                requests,
                (context, request) -> windows(dir, encoder, cfg, request),
                Window[].class,
                "loupe feature contexts of " + store)) {
            for (Window[] ws = job.next(); ws != null; ws = job.next())
                for (Window w : ws) windows.put(w.feature() * m.rows() + w.row(), w);
        }

        List<FeatureDashboard> out = new ArrayList<>(features);
        Map<Integer, String> tokenText = new HashMap<>();
        for (int f = 0; f < features; f++) {
            double hi = max[f] > 0 ? max[f] : 1;
            double[] edges = new double[cfg.bins() + 1];
            for (int b = 0; b <= cfg.bins(); b++) edges[b] = hi * b / cfg.bins();
            long[] c = java.util.Arrays.copyOfRange(counts, f * cfg.bins(), (f + 1) * cfg.bins());
            List<FeatureDashboard.Example> examples = new ArrayList<>();
            for (FeatureTotals.Hit h : totals.top(f)) {
                Window w = windows.get(f * m.rows() + h.row());
                List<String> tokens = new ArrayList<>();
                for (int id : w.tokens()) tokens.add(tokenText.computeIfAbsent(id, t -> text(tokenizer, t)));
                examples.add(new FeatureDashboard.Example(
                        h.row(), w.sequence(), w.position(), h.value(), tokens, w.activations(), w.focus()));
            }
            out.add(new FeatureDashboard(
                    f,
                    totals.rows == 0 ? 0 : totals.count[f] / (double) totals.rows,
                    totals.count[f] == 0 ? 0 : max[f],
                    totals.count[f] == 0 ? 0 : totals.sum[f] / totals.count[f],
                    new FeatureDashboard.Histogram(edges, c),
                    examples,
                    List.of(),
                    List.of(),
                    List.of(),
                    totals.rows));
        }
        return out;
    }

    private static String text(Tokenizer tokenizer, int id) {
        return tokenizer == null
                ? Integer.toString(id)
                : tokenizer.toStrTokens(new int[] {id}).get(0);
    }

    // ------------------------------------------------------------------ on the executors

    private static FeatureTotals totals(String dir, FeatureEncoder encoder, FeatureStatsConfig cfg, Shard shard) {
        ActivationStore store = ExecutorResources.store(dir);
        FeatureTotals t = new FeatureTotals(encoder.features(), cfg.topK());
        for (long from = shard.firstRow(); from < shard.firstRow() + shard.rows(); from += cfg.batchRows()) {
            int n = (int) Math.min(cfg.batchRows(), shard.firstRow() + shard.rows() - from);
            INDArray x = store.rows(encoder.hook(), from, n); // [n, d]
            INDArray acts = encoder.encode(x); // [n, features]
            t.add(acts, from);
            free(x, acts);
        }
        return t;
    }

    private static long[] histograms(
            String dir, FeatureEncoder encoder, FeatureStatsConfig cfg, Shard shard, float[] max) {
        ActivationStore store = ExecutorResources.store(dir);
        int features = encoder.features(), bins = cfg.bins();
        long[] counts = new long[features * bins];
        for (long from = shard.firstRow(); from < shard.firstRow() + shard.rows(); from += cfg.batchRows()) {
            int n = (int) Math.min(cfg.batchRows(), shard.firstRow() + shard.rows() - from);
            INDArray x = store.rows(encoder.hook(), from, n);
            INDArray acts = encoder.encode(x);
            INDArray byFeature = acts.transpose(); // [features, n]
            INDArray dense = NativeBytes.viewable(byFeature) ? byFeature : byFeature.dup('c');
            FloatBuffer v = NativeBytes.of(dense).asFloatBuffer();
            for (int f = 0; f < features; f++) {
                double scale = bins / (double) (max[f] > 0 ? max[f] : 1);
                for (int i = 0; i < n; i++) {
                    float a = v.get(f * n + i);
                    if (a > 0) counts[f * bins + Math.min(bins - 1, (int) (a * scale))]++;
                }
            }
            java.lang.ref.Reference.reachabilityFence(dense);
            if (dense != byFeature) NativeBytes.free(dense);
            free(x, acts);
        }
        return counts;
    }

    /** The (feature, row) pairs whose windows one shard's task reads. */
    record WindowRequest(int shard, List<long[]> hits) implements Serializable {}

    /** A row's context window: tokens, the feature's activation at each, and where the row is in it. */
    record Window(long feature, long row, long sequence, int position, int[] tokens, double[] activations, int focus)
            implements Serializable {}

    private static Window[] windows(String dir, FeatureEncoder encoder, FeatureStatsConfig cfg, WindowRequest r) {
        ActivationStore store = ExecutorResources.store(dir);
        int context = store.manifest().contextSize();
        Map<Long, INDArray> encoded = new LinkedHashMap<>(); // by the window's first row: encoded once
        List<Window> out = new ArrayList<>();
        for (long[] hit : r.hits()) {
            int f = (int) hit[0];
            long row = hit[1];
            int position = store.positions(row, 1)[0];
            long start = row - position;
            long from = Math.max(start, row - cfg.before()), to = Math.min(start + context, row + cfg.after() + 1);
            int count = (int) (to - from);
            INDArray acts = encoded.computeIfAbsent(
                    from * (context + 1) + count, k -> encoder.encode(store.rows(encoder.hook(), from, count)));
            double[] values = new double[count];
            for (int i = 0; i < count; i++) values[i] = acts.getDouble(i, f);
            out.add(new Window(f, row, store.sequences(row, 1)[0], position, store.tokens(from, count), values, (int)
                    (row - from)));
        }
        encoded.values().forEach(NativeBytes::free);
        return out.toArray(Window[]::new);
    }

    private static void free(INDArray x, INDArray acts) {
        if (acts != x) NativeBytes.free(acts);
        NativeBytes.free(x);
    }

    /** Which shard a row is in, from the manifest. */
    private static final class ActivationStoreIndex {
        private final long[] firstRow;

        ActivationStoreIndex(StoreManifest m) {
            firstRow = m.shards().stream()
                    .mapToLong(StoreManifest.ShardInfo::firstRow)
                    .toArray();
        }

        int shardOf(long row) {
            int i = java.util.Arrays.binarySearch(firstRow, row);
            return i >= 0 ? i : -i - 2;
        }
    }
}
