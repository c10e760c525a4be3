package dev.loupe.probes.sweep;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.probes.SupervisedProbe;
import dev.loupe.probes.data.CacheRows;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.data.RowSource;
import dev.loupe.probes.data.StoreRows;
import dev.loupe.probes.metrics.Evaluation;
import dev.loupe.store.read.ActivationStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Fits one probe per hook point (every layer, or any set of hooks) on the same labels and the same
 * stratified train/test split, and tabulates train/test accuracy, AUROC and log-loss per hook:
 * <pre>{@code
 * SweepResult r = LayerSweep.of(() -> LogisticProbe.create()).run(store, hooks, labels);
 * r.table();   // hook, layer, n_train, n_test, train_accuracy, test_accuracy, ..., seconds
 * r.figure();  // accuracy per layer
 * }</pre>
 * Sources are arrays in memory, a cache (per-token rows), or a store, streamed hook by hook.
 */
public final class LayerSweep {
    private final Supplier<? extends SupervisedProbe> probes;
    private final double testFraction;
    private final long seed;
    private final boolean progress;

    private LayerSweep(Supplier<? extends SupervisedProbe> probes, double testFraction, long seed, boolean progress) {
        this.probes = probes;
        this.testFraction = testFraction;
        this.seed = seed;
        this.progress = progress;
    }

    /** A sweep fitting a fresh probe from {@code probes} per hook, testing on 20% of the rows (seed 0). */
    public static LayerSweep of(Supplier<? extends SupervisedProbe> probes) {
        return new LayerSweep(probes, 0.2, 0, false);
    }

    /** The share of rows held out for testing (stratified by label). */
    public LayerSweep testFraction(double f) {
        return new LayerSweep(probes, f, seed, progress);
    }

    public LayerSweep seed(long s) {
        return new LayerSweep(probes, testFraction, s, progress);
    }

    /** Shows a progress bar over hooks on stderr. */
    public LayerSweep progress(boolean p) {
        return new LayerSweep(probes, testFraction, seed, p);
    }

    /** Hooks of a store, streamed (never loaded whole); labels align with the store's rows. */
    public SweepResult run(ActivationStore store, List<String> hooks, int[] labels) {
        Map<String, RowSource> sources = new LinkedHashMap<>();
        for (String h : hooks) {
            StoreRows rows = StoreRows.of(store, h);
            sources.put(rows.hook(), rows);
        }
        return run(sources, labels);
    }

    /** Hooks of a cache, every position as a row (batch-major); labels from {@code Labels.perPosition}. */
    public SweepResult run(ActivationCache cache, List<String> hooks, int[] labels) {
        Map<String, RowSource> sources = new LinkedHashMap<>();
        for (String h : hooks) {
            String name = HookNames.actName(h, -1);
            sources.put(name, RowSource.of(CacheRows.of(cache, name), "cache " + name, name));
        }
        return run(sources, labels);
    }

    /** Hooks of a cache at one position of every sequence (-1: the last); one label per sequence. */
    public SweepResult runAt(ActivationCache cache, List<String> hooks, int position, int[] labels) {
        Map<String, RowSource> sources = new LinkedHashMap<>();
        for (String h : hooks) {
            String name = HookNames.actName(h, -1);
            sources.put(
                    name,
                    RowSource.of(CacheRows.at(cache, name, position), "cache " + name + " position " + position, name));
        }
        return run(sources, labels);
    }

    /** Any row sources by hook name, all with the same rows in the same order. */
    public SweepResult run(Map<String, RowSource> hooks, int[] labels) {
        if (hooks.isEmpty()) throw new LoupeException("sweep: no hooks given");
        StringColumn hookCol = StringColumn.create("hook");
        IntColumn layerCol = IntColumn.create("layer"),
                trainCol = IntColumn.create("n_train"),
                testCol = IntColumn.create("n_test");
        Map<String, DoubleColumn> metricCols = new LinkedHashMap<>();
        Map<String, SupervisedProbe> fitted = new LinkedHashMap<>();
        LabeledRows.Split split = null;
        long rows = -1;
        try (ProgressBar bar =
                progress ? ProgressBar.onStderr("sweep", 0, hooks.size(), "hooks") : ProgressBar.silent()) {
            int done = 0;
            for (var e : hooks.entrySet()) {
                RowSource src = e.getValue();
                if (rows >= 0 && src.rows() != rows)
                    throw new LoupeException("sweep: " + src.description() + " has " + src.rows()
                            + " rows, the first hook " + rows + "; every hook must have the same rows");
                rows = src.rows();
                LabeledRows all = LabeledRows.of(src, labels);
                LabeledRows.Split s = all.split(testFraction, seed);
                if (split == null) split = s;
                LabeledRows train = all.restrictedTo(mask(split.train())), test = all.restrictedTo(mask(split.test()));
                bar.update(done, e.getKey());
                long t0 = System.nanoTime();
                SupervisedProbe probe = probes.get();
                probe.fit(train);
                double seconds = (System.nanoTime() - t0) / 1e9;
                Map<String, LabeledRows> parts = new LinkedHashMap<>();
                parts.put("train", train);
                parts.put("test", test);
                Map<String, Map<String, Double>> m = Evaluation.evaluate(probe, parts);
                m.forEach((part, metrics) -> metrics.forEach((name, v) -> probe.putMetric(part + "_" + name, v)));
                hookCol.append(e.getKey());
                layerCol.append(HookNames.layerOf(e.getKey()));
                trainCol.append((int) train.count());
                testCol.append((int) test.count());
                for (String name : m.get("train").keySet())
                    for (String part : List.of("train", "test"))
                        metricCols
                                .computeIfAbsent(part + "_" + name, DoubleColumn::create)
                                .append(m.get(part).get(name));
                metricCols.computeIfAbsent("seconds", DoubleColumn::create).append(seconds);
                fitted.put(e.getKey(), probe);
                bar.update(++done, e.getKey());
            }
        }
        Table table = Table.create("probe sweep").addColumns(hookCol, layerCol, trainCol, testCol);
        metricCols.values().forEach(table::addColumns);
        return new SweepResult(table, fitted);
    }

    private static boolean[] mask(LabeledRows part) {
        boolean[] m = new boolean[part.labels().length];
        for (int i = 0; i < m.length; i++) m[i] = part.includes(i);
        return m;
    }
}
