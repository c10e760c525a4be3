package dev.loupe.probes.plot;

import dev.loupe.viz.Figure;
import java.util.ArrayList;
import java.util.List;
import tech.tablesaw.api.Table;

/**
 * Figures of a sweep table (kept apart from the probe math; only this package knows about plots).
 */
public final class SweepPlot {
    private SweepPlot() {}

    /**
     * Test and train accuracy per hook (R² for a regression sweep), hooks in table order on the x axis
     * labelled by layer when every hook has its own layer, by hook name otherwise; y from 0 to 1.
     */
    public static Figure accuracy(Table t) {
        boolean regression = !t.containsColumn("test_accuracy");
        String metric = regression ? "r2" : "accuracy";
        double[] x = new double[t.rowCount()];
        for (int i = 0; i < x.length; i++) x[i] = i;
        return Figure.line("test " + metric, x, t.doubleColumn("test_" + metric).asDoubleArray())
                .withLine(
                        "train " + metric, x, t.doubleColumn("train_" + metric).asDoubleArray())
                .xTitle(byLayer(t) ? "layer" : "hook")
                .yTitle(metric)
                .title("probe " + metric + " per " + (byLayer(t) ? "layer" : "hook"))
                .xLabels(labels(t));
    }

    /** Test AUROC per hook, with the chance level 0.5. */
    public static Figure auroc(Table t) {
        double[] x = new double[t.rowCount()];
        for (int i = 0; i < x.length; i++) x[i] = i;
        return Figure.line("test AUROC", x, t.doubleColumn("test_auroc").asDoubleArray())
                .withLine(
                        "chance",
                        x,
                        java.util.stream.DoubleStream.generate(() -> 0.5)
                                .limit(x.length)
                                .toArray())
                .xTitle(byLayer(t) ? "layer" : "hook")
                .yTitle("AUROC")
                .xLabels(labels(t));
    }

    private static boolean byLayer(Table t) {
        List<Integer> layers = t.intColumn("layer").asList();
        return layers.stream().allMatch(l -> l >= 0)
                && layers.stream().distinct().count() == layers.size();
    }

    private static List<String> labels(Table t) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < t.rowCount(); i++)
            out.add(
                    byLayer(t)
                            ? String.valueOf(t.intColumn("layer").get(i))
                            : shortName(t.stringColumn("hook").get(i)));
        return out;
    }

    private static String shortName(String hook) {
        return hook.replace("blocks.", "").replace(".hook_", " ").replace("hook_", "");
    }
}
