package dev.loupe.probes.metrics;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Classification and regression metrics with scikit-learn's definitions: accuracy, AUROC
 * ({@code roc_auc_score}: ties share their average rank; several classes: the unweighted mean of
 * one-vs-rest AUROCs, {@code multi_class="ovr", average="macro"}), log-loss ({@code log_loss}:
 * probabilities clipped to [ε, 1 − ε], ε the float64 machine epsilon) and R² ({@code r2_score}).
 */
public final class Metrics {
    private Metrics() {}

    /** Row-wise softmax of z [n, k] (double), stable: exp(z − max). */
    public static INDArray softmax(INDArray z) {
        INDArray e = Transforms.exp(z.subColumnVector(z.max(1).reshape(z.size(0), 1)), false);
        return e.diviColumnVector(e.sum(1).reshape(z.size(0), 1));
    }

    public static double accuracy(int[] y, int[] predicted) {
        int ok = 0;
        for (int i = 0; i < y.length; i++) if (y[i] == predicted[i]) ok++;
        return y.length == 0 ? Double.NaN : (double) ok / y.length;
    }

    /**
     * The rows of a [n, k] array as Java arrays, through one copy of its data. (ND4J's {@code
     * toDoubleMatrix()} makes an array view per row: for 100,000 rows, 100,000 objects with native
     * deallocators, whose garbage collection then pauses whatever runs next for 80-200 ms.)
     */
    public static double[][] rows(INDArray a) {
        int n = (int) a.size(0), k = (int) a.size(1);
        double[] flat = a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[][] out = new double[n][];
        for (int i = 0; i < n; i++) out[i] = java.util.Arrays.copyOfRange(flat, i * k, (i + 1) * k);
        return out;
    }

    /**
     * Mean −log p(true class). {@code classIndex[i]} is the column of row i's class in
     * {@code proba [n, k]}.
     */
    public static double logLoss(int[] classIndex, INDArray proba) {
        return logLoss(classIndex, rows(proba));
    }

    /** {@link #logLoss(int[], INDArray)} on rows of probabilities. */
    public static double logLoss(int[] classIndex, double[][] p) {
        double eps = Math.ulp(1.0);
        double s = 0;
        for (int i = 0; i < classIndex.length; i++) {
            // scikit-learn clips, then renormalises each row
            double rowSum = 0;
            for (double v : p[i]) rowSum += Math.min(Math.max(v, eps), 1 - eps);
            double q = Math.min(Math.max(p[i][classIndex[i]], eps), 1 - eps) / rowSum;
            s -= Math.log(q);
        }
        return classIndex.length == 0 ? Double.NaN : s / classIndex.length;
    }

    /**
     * Area under the ROC curve of {@code score} for the {@code positive} rows: the probability that a
     * positive row scores above a negative one, ties counting one half (the Mann–Whitney U statistic).
     * NaN when either class is absent.
     */
    public static double auroc(boolean[] positive, double[] score) {
        int nPos = 0;
        for (boolean p : positive) if (p) nPos++;
        double[] pos = new double[nPos], neg = new double[score.length - nPos];
        for (int i = 0, a = 0, b = 0; i < score.length; i++) {
            if (positive[i]) pos[a++] = score[i];
            else neg[b++] = score[i];
        }
        if (pos.length == 0 || neg.length == 0) return Double.NaN;
        Arrays.sort(pos);
        Arrays.sort(neg);
        double wins = 0;
        int below = 0, upTo = 0; // negatives < current score, negatives <= current score
        for (double s : pos) {
            while (below < neg.length && neg[below] < s) below++;
            if (upTo < below) upTo = below;
            while (upTo < neg.length && neg[upTo] <= s) upTo++;
            wins += below + 0.5 * (upTo - below);
        }
        return wins / ((double) pos.length * neg.length);
    }

    /**
     * AUROC of class probabilities [n, k] for rows whose class is {@code classIndex}: two classes, the
     * AUROC of the second class's probability; more, the mean one-vs-rest AUROC over classes present.
     */
    public static double auroc(int[] classIndex, INDArray proba) {
        return auroc(classIndex, rows(proba));
    }

    /** {@link #auroc(int[], INDArray)} on rows of probabilities. */
    public static double auroc(int[] classIndex, double[][] p) {
        if (p.length == 0) return Double.NaN;
        int k = p[0].length;
        if (k == 2) return auroc(column(classIndex, 1), columnOf(p, 1));
        double sum = 0;
        int used = 0;
        for (int c = 0; c < k; c++) {
            double a = auroc(column(classIndex, c), columnOf(p, c));
            if (!Double.isNaN(a)) {
                sum += a;
                used++;
            }
        }
        return used == 0 ? Double.NaN : sum / used;
    }

    private static boolean[] column(int[] classIndex, int c) {
        boolean[] out = new boolean[classIndex.length];
        for (int i = 0; i < out.length; i++) out[i] = classIndex[i] == c;
        return out;
    }

    private static double[] columnOf(double[][] p, int c) {
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) out[i] = p[i][c];
        return out;
    }

    /** R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², averaged over targets (columns) as scikit-learn's default. */
    public static double r2(INDArray y, INDArray predicted) {
        INDArray yt = y.castTo(DataType.DOUBLE), pt = predicted.castTo(DataType.DOUBLE);
        if (yt.rank() == 1) yt = yt.reshape(yt.length(), 1);
        if (pt.rank() == 1) pt = pt.reshape(pt.length(), 1);
        if (!Arrays.equals(yt.shape(), pt.shape()))
            throw new LoupeException("r2: targets " + Arrays.toString(yt.shape()) + " and predictions "
                    + Arrays.toString(pt.shape()) + " differ in shape");
        INDArray res = yt.sub(pt);
        INDArray ssRes = res.mul(res).sum(0);
        INDArray centred = yt.subRowVector(yt.mean(0));
        INDArray ssTot = centred.mul(centred).sum(0);
        double s = 0;
        long k = yt.size(1);
        for (int j = 0; j < k; j++) {
            double tot = ssTot.getDouble(j), r = ssRes.getDouble(j);
            s += tot == 0 ? (r == 0 ? 1.0 : 0.0) : 1 - r / tot;
        }
        return s / k;
    }
}
