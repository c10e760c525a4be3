package dev.loupe.probes.sweep;

import dev.loupe.probes.SupervisedProbe;
import dev.loupe.probes.plot.SweepPlot;
import dev.loupe.viz.Figure;
import java.util.Collections;
import java.util.Map;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.Table;

/**
 * What a {@link LayerSweep} found: one table row per hook (hook, layer, n_train, n_test, then
 * train_/test_ accuracy, auroc and log_loss — or r2 for a regression probe — and the fit's seconds)
 * and the fitted probes by hook, each with those metrics recorded.
 */
public record SweepResult(Table table, Map<String, SupervisedProbe> probes) {
    public SweepResult {
        probes = Collections.unmodifiableMap(probes);
    }

    /** The probe of one hook. */
    public SupervisedProbe probe(String hook) {
        SupervisedProbe p = probes.get(hook);
        if (p == null)
            throw new dev.loupe.engine.LoupeException("sweep has no hook " + hook + "; hooks: " + probes.keySet());
        return p;
    }

    /** The hook with the highest test accuracy (test R² for a regression probe). */
    public String bestHook() {
        String metric = table.containsColumn("test_accuracy") ? "test_accuracy" : "test_r2";
        Table sorted = table.sortDescendingOn(metric);
        return sorted.stringColumn("hook").get(0);
    }

    /** hook, then the test metrics rounded to 3 decimals: the table to show a reader. */
    public Table summary() {
        Table t = Table.create("probe sweep (test metrics)")
                .addColumns(table.stringColumn("hook").copy());
        for (String c : table.columnNames())
            if (c.startsWith("test_")) {
                DoubleColumn col =
                        table.doubleColumn(c).map(v -> Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : v);
                t.addColumns(col.setName(c.substring("test_".length())));
            }
        return t;
    }

    /** Train and test accuracy (or R²) per hook: {@link SweepPlot#accuracy}. */
    public Figure figure() {
        return SweepPlot.accuracy(table);
    }
}
