package dev.loupe.probes.metrics;

import dev.loupe.probes.Probe;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.fit.Batching;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A fitted probe's metrics on one or more parts of the same rows (say train and test), from one
 * streamed pass: accuracy, AUROC and log-loss for classifiers, R² for a regression probe.
 */
public final class Evaluation {
    private Evaluation() {}

    /** Metrics per part, in the order given: "accuracy", "auroc", "log_loss" (classifiers) or "r2". */
    public static Map<String, Map<String, Double>> evaluate(Probe probe, Map<String, LabeledRows> parts) {
        LabeledRows any = parts.values().iterator().next();
        int[] classes = probe.classes();
        int k = classes == null ? 1 : classes.length;
        int[] labels = any.labels();
        String[] names = parts.keySet().toArray(String[]::new);
        LabeledRows[] ps = parts.values().toArray(LabeledRows[]::new);
        int[] sizes = Arrays.stream(ps).mapToInt(p -> (int) p.count()).toArray();
        boolean keepScores = (long) any.count() * k <= (1L << 26);
        double[][][] scores = new double[ps.length][][]; // part -> row -> class probabilities
        int[][] truth = new int[ps.length][];
        for (int p = 0; p < ps.length; p++) {
            scores[p] = new double[sizes[p]][];
            truth[p] = new int[sizes[p]];
        }
        int[] filled = new int[ps.length];
        any.rows().scan(Batching.rows(any.rows(), k), (first, x) -> {
            int n = (int) x.size(0);
            double[][] out = classes == null
                    ? Metrics.rows(probe.predict(x).reshape(n, 1))
                    : Metrics.rows(probe.predictProba(x));
            for (int i = 0; i < n; i++) {
                long row = first + i;
                for (int p = 0; p < ps.length; p++) {
                    if (!ps[p].includes(row)) continue;
                    int at = filled[p]++;
                    scores[p][at] = out[i];
                    truth[p][at] = labels[(int) row];
                }
            }
        });
        Map<String, Map<String, Double>> result = new LinkedHashMap<>();
        for (int p = 0; p < ps.length; p++) result.put(names[p], metrics(classes, truth[p], scores[p], keepScores));
        return result;
    }

    private static Map<String, Double> metrics(int[] classes, int[] truth, double[][] scores, boolean auroc) {
        Map<String, Double> m = new LinkedHashMap<>();
        int n = truth.length;
        if (classes == null) {
            double[] y = Arrays.stream(truth).asDoubleStream().toArray();
            double[] pred = new double[n];
            for (int i = 0; i < n; i++) pred[i] = scores[i][0];
            m.put(
                    "r2",
                    Metrics.r2(
                            org.nd4j.linalg.factory.Nd4j.createFromArray(y),
                            org.nd4j.linalg.factory.Nd4j.createFromArray(pred)));
            return m;
        }
        int[] idx = new int[n];
        int[] predicted = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = Arrays.binarySearch(classes, truth[i]);
            int best = 0;
            for (int c = 1; c < classes.length; c++) if (scores[i][c] > scores[i][best]) best = c;
            predicted[i] = classes[best];
        }
        m.put("accuracy", Metrics.accuracy(truth, predicted));
        // labels the probe never saw (a class missing from its training rows) have no probability
        boolean known = n > 0 && Arrays.stream(idx).allMatch(i -> i >= 0);
        m.put("auroc", auroc && known ? Metrics.auroc(idx, scores) : Double.NaN);
        m.put("log_loss", known ? Metrics.logLoss(idx, scores) : Double.NaN);
        return m;
    }
}
