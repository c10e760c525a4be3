package dev.loupe.store.stats;

import java.util.List;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Summary of one hook's rows: count, mean L2 norm, and per-dimension mean and (population) variance.
 * Computed from the float32 activations as the model produced them, before rounding to the storage dtype.
 */
public record HookStatistics(String hook, long count, double meanNorm, double[] mean, double[] variance) {

    /** From per-dimension sums and sums of squares and the sum of row norms over {@code count} rows. */
    public static HookStatistics fromSums(String hook, long count, double[] sum, double[] sumSq, double normSum) {
        int d = sum.length;
        double[] mean = new double[d], var = new double[d];
        for (int i = 0; i < d && count > 0; i++) {
            mean[i] = sum[i] / count;
            var[i] = Math.max(0, sumSq[i] / count - mean[i] * mean[i]);
        }
        return new HookStatistics(hook, count, count == 0 ? Double.NaN : normSum / count, mean, var);
    }

    public int d() {
        return mean.length;
    }

    /** Mean over dimensions of the per-dimension variance. */
    public double meanVariance() {
        double s = 0;
        for (double v : variance) s += v;
        return s / Math.max(1, variance.length);
    }

    /** Mean over dimensions of the per-dimension mean (the mean of all entries). */
    public double meanOfMeans() {
        double s = 0;
        for (double v : mean) s += v;
        return s / Math.max(1, mean.length);
    }

    /** One row per dimension: dim, mean, variance. */
    public Table perDimension() {
        IntColumn dim = IntColumn.create("dim");
        DoubleColumn m = DoubleColumn.create("mean"), v = DoubleColumn.create("variance");
        for (int i = 0; i < d(); i++) {
            dim.append(i);
            m.append(mean[i]);
            v.append(variance[i]);
        }
        return Table.create(hook + " per dimension", dim, m, v);
    }

    /** One row per hook: hook, d, count, mean_norm, mean (of all entries), mean_variance (over dimensions). */
    public static Table table(List<HookStatistics> stats) {
        StringColumn hook = StringColumn.create("hook");
        IntColumn d = IntColumn.create("d");
        LongColumn count = LongColumn.create("count");
        DoubleColumn norm = DoubleColumn.create("mean_norm"),
                mean = DoubleColumn.create("mean"),
                var = DoubleColumn.create("mean_variance");
        for (HookStatistics s : stats) {
            hook.append(s.hook());
            d.append(s.d());
            count.append(s.count());
            norm.append(s.meanNorm());
            mean.append(s.meanOfMeans());
            var.append(s.meanVariance());
        }
        return Table.create("activations store statistics", hook, d, count, norm, mean, var);
    }
}
