package dev.loupe.probes.data;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Activation rows with an integer label per row, and which rows take part: what a supervised probe
 * fits on. The rows stay where they are (in memory or in a store); a train/test split is two
 * {@code LabeledRows} over the same rows with complementary row sets, so splitting a store copies
 * nothing. Rows labelled {@link Labels#IGNORE} never take part.
 */
public final class LabeledRows {
    private final RowSource rows;
    private final int[] labels;
    private final boolean[] included; // null: every row with a label
    private final long count;

    private LabeledRows(RowSource rows, int[] labels, boolean[] included) {
        this.rows = rows;
        this.labels = labels;
        this.included = included;
        long c = 0;
        for (int i = 0; i < labels.length; i++) if (includes(i)) c++;
        this.count = c;
    }

    /**
     * {@code labels[i]} labels row {@code i} of {@code rows}; {@link Labels#IGNORE} leaves a row out.
     *
     * @throws LoupeException when the numbers of rows and labels differ, naming both
     */
    public static LabeledRows of(RowSource rows, int[] labels) {
        if (labels == null) throw new LoupeException(rows.description() + ": labels are null");
        if (labels.length != rows.rows())
            throw new LoupeException(rows.description() + " has " + rows.rows() + " rows but there are " + labels.length
                    + " labels; expected one label per row");
        return new LabeledRows(rows, labels, null);
    }

    /** Rows of {@code x} [n, d] in memory with their labels. */
    public static LabeledRows of(INDArray x, int[] labels) {
        return of(RowSource.of(x), labels);
    }

    public RowSource rows() {
        return rows;
    }

    /** The label of every source row (also of rows that do not take part). Not a copy: do not modify. */
    public int[] labels() {
        return labels;
    }

    /** True when source row {@code i} takes part. */
    public boolean includes(long i) {
        int r = (int) i;
        return labels[r] != Labels.IGNORE && (included == null || included[r]);
    }

    /** The number of rows that take part. */
    public long count() {
        return count;
    }

    /** The labels of the rows that take part, in row order. */
    public int[] includedLabels() {
        int[] out = new int[(int) count];
        int k = 0;
        for (int i = 0; i < labels.length; i++) if (includes(i)) out[k++] = labels[i];
        return out;
    }

    /** Indices of the rows that take part, in order. */
    public int[] includedRows() {
        int[] out = new int[(int) count];
        int k = 0;
        for (int i = 0; i < labels.length; i++) if (includes(i)) out[k++] = i;
        return out;
    }

    /** The distinct labels of the rows that take part, sorted (scikit-learn's {@code classes_}). */
    public int[] classes() {
        return Arrays.stream(includedLabels()).distinct().sorted().toArray();
    }

    /** Rows that take part and are also in {@code rowSet} (indexed by source row). */
    public LabeledRows restrictedTo(boolean[] rowSet) {
        if (rowSet.length != labels.length)
            throw new LoupeException("row set has " + rowSet.length + " entries, expected " + labels.length);
        boolean[] in = new boolean[labels.length];
        for (int i = 0; i < in.length; i++) in[i] = rowSet[i] && includes(i);
        return new LabeledRows(rows, labels, in);
    }

    /** A train and a test part of the same rows. */
    public record Split(LabeledRows train, LabeledRows test) {}

    /**
     * A stratified train/test split: each class's rows are shuffled with {@code seed} and
     * {@code round(testFraction × rows of the class)} of them (at least one, and at least one left for
     * training) go to the test part, so both parts have every class in the proportions of the whole.
     * Same seed, same split.
     *
     * @throws LoupeException when the fraction is not in (0, 1) or a class has fewer than 2 rows
     */
    public Split split(double testFraction, long seed) {
        if (!(testFraction > 0 && testFraction < 1))
            throw new LoupeException("split: the test fraction must be in (0, 1), got " + testFraction);
        TreeMap<Integer, int[]> byClass = new TreeMap<>();
        TreeMap<Integer, Integer> counts = new TreeMap<>();
        for (int i = 0; i < labels.length; i++) if (includes(i)) counts.merge(labels[i], 1, Integer::sum);
        counts.forEach((c, n) -> byClass.put(c, new int[n]));
        TreeMap<Integer, Integer> fill = new TreeMap<>();
        for (int i = 0; i < labels.length; i++)
            if (includes(i)) {
                int at = fill.merge(labels[i], 1, Integer::sum) - 1;
                byClass.get(labels[i])[at] = i;
            }
        boolean[] test = new boolean[labels.length];
        SplittableRandom rng = new SplittableRandom(seed);
        for (var e : byClass.entrySet()) {
            int[] idx = e.getValue();
            if (idx.length < 2)
                throw new LoupeException(rows.description() + ": class " + e.getKey() + " has " + idx.length
                        + " row; a stratified split needs at least 2 rows of every class");
            for (int i = idx.length - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1), t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
            int nTest = (int) Math.max(1, Math.min(idx.length - 1, Math.round(testFraction * idx.length)));
            for (int i = 0; i < nTest; i++) test[idx[i]] = true;
        }
        boolean[] train = new boolean[labels.length];
        for (int i = 0; i < train.length; i++) train[i] = includes(i) && !test[i];
        return new Split(new LabeledRows(rows, labels, train), new LabeledRows(rows, labels, test));
    }
}
