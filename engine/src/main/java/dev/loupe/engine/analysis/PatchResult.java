package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/**
 * The metric of every patch, as TransformerLens's patching functions return it, with its axes named.
 *
 * @param values  one value per patch, shaped by the axes ({@code [layer, pos]}, {@code [layer, head]}, ...)
 * @param axes    the axis names, TransformerLens's ({@code layer}, {@code pos}, {@code head},
 *                {@code dest_pos}, {@code src_pos}); a first axis {@code component} names its entries in {@code labels}
 * @param labels  the names of the first axis' entries when it is {@code component} (e.g. resid_pre,
 *                attn_out, mlp_out), else empty
 * @param metric  what the values measure ({@link PatchingMetric#name()}, or "attribution")
 */
public record PatchResult(INDArray values, List<String> axes, List<String> labels, String metric) {

    public PatchResult {
        if (values.rank() != axes.size())
            throw new IllegalArgumentException(
                    "patch result: " + axes.size() + " axis names for shape " + Arrays.toString(values.shape()));
        axes = List.copyOf(axes);
        labels = List.copyOf(labels);
    }

    /** The value at one index tuple, one entry per axis. */
    public double get(int... index) {
        if (index.length != axes.size())
            throw new LoupeException("patch result: index " + Arrays.toString(index) + " for axes " + axes);
        long[] at = new long[index.length];
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= values.size(i))
                throw new LoupeException("patch result: " + axes.get(i) + " " + index[i] + " is out of range 0.."
                        + (values.size(i) - 1));
            at[i] = index[i];
        }
        return values.getDouble(at);
    }

    /** A two-axis result as rows of doubles (first axis down, second across), for heatmaps. */
    public double[][] toMatrix() {
        if (values.rank() != 2) throw new LoupeException("patch result: toMatrix needs 2 axes, this has " + axes);
        return values.toDoubleMatrix();
    }

    /** The index tuple of the largest value. */
    public int[] argmax() {
        long flat = values.reshape(values.length()).argMax(0).getLong(0);
        return unflatten(flat);
    }

    /**
     * Pearson correlation with another result of the same shape (attribution estimates against true
     * patching, say), over every entry.
     */
    public double correlation(PatchResult other) {
        if (!Arrays.equals(values.shape(), other.values.shape()))
            throw new LoupeException("patch result: correlation of shapes " + Arrays.toString(values.shape()) + " and "
                    + Arrays.toString(other.values.shape()));
        double[] x = values.dup('c').reshape(values.length()).toDoubleVector();
        double[] y = other.values.dup('c').reshape(values.length()).toDoubleVector();
        double mx = Arrays.stream(x).average().orElse(0),
                my = Arrays.stream(y).average().orElse(0);
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    /** This result minus a constant (true patching minus the corrupted baseline, to compare with attribution). */
    public PatchResult minus(double baseline) {
        return new PatchResult(values.sub(baseline), axes, labels, metric + " - " + baseline);
    }

    /**
     * One row per patch: a column per axis ({@code layer}, {@code pos}, ... as integers; {@code
     * component} as text) and a {@code value} column. Sort or filter it with Tablesaw.
     */
    public Table table() {
        Column<?>[] cols = new Column<?>[axes.size() + 1];
        for (int a = 0; a < axes.size(); a++)
            cols[a] = !labels.isEmpty() && a == 0 ? StringColumn.create(axes.get(a)) : IntColumn.create(axes.get(a));
        DoubleColumn value = DoubleColumn.create("value");
        cols[axes.size()] = value;
        double[] flat = values.dup('c').reshape(values.length()).toDoubleVector();
        for (int i = 0; i < flat.length; i++) {
            int[] idx = unflatten(i);
            for (int a = 0; a < axes.size(); a++) {
                if (cols[a] instanceof StringColumn s) s.append(labels.get(idx[a]));
                else ((IntColumn) cols[a]).append(idx[a]);
            }
            value.append(flat[i]);
        }
        return Table.create(metric + " by " + String.join(", ", axes), cols);
    }

    private int[] unflatten(long flat) {
        int[] idx = new int[axes.size()];
        for (int a = axes.size() - 1; a >= 0; a--) {
            idx[a] = (int) (flat % values.size(a));
            flat /= values.size(a);
        }
        return idx;
    }

    @Override
    public String toString() {
        return "PatchResult(" + metric + " by " + axes + " " + Arrays.toString(values.shape()) + ")";
    }
}
