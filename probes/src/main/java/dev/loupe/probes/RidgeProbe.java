package dev.loupe.probes;

import dev.loupe.engine.LoupeException;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.data.RowSource;
import dev.loupe.probes.fit.Batching;
import dev.loupe.probes.fit.Blas;
import dev.loupe.probes.fit.ColumnStats;
import dev.loupe.probes.metrics.Metrics;
import java.util.Arrays;
import java.util.function.LongPredicate;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Ridge regression in closed form, scikit-learn's {@code Ridge(alpha)} with an intercept: minimises
 * {@code ‖y − X W − b‖² + alpha ‖W‖²} by centring X and y and solving
 * {@code (Xcᵀ Xc + alpha I) W = Xcᵀ yc} (Cholesky), {@code b = ȳ − x̄ᵀ W}. The Gram matrix is
 * accumulated in double over streamed batches (two passes: means, then the centred products), so a
 * store is fitted without loading it. Targets are the labels as numbers, or any [n] / [n, t] array;
 * {@link #predict} returns the regression, {@link #score} R².
 */
public final class RidgeProbe extends LinearProbe implements SupervisedProbe {
    public static final String KIND = "ridge";
    private final double alpha;

    private RidgeProbe(double alpha, String hook) {
        super(hook);
        if (!(alpha >= 0) || Double.isInfinite(alpha))
            throw new LoupeException("ridge probe: alpha must be finite and >= 0, got " + alpha);
        this.alpha = alpha;
    }

    RidgeProbe(State s) {
        super(s);
        this.alpha = ((Number) s.params().getOrDefault("alpha", 1.0)).doubleValue();
    }

    /** scikit-learn's default, alpha = 1. */
    public static RidgeProbe create() {
        return new RidgeProbe(1.0, null);
    }

    public static RidgeProbe create(double alpha) {
        return new RidgeProbe(alpha, null);
    }

    public static RidgeProbe create(double alpha, String hook) {
        return new RidgeProbe(alpha, hook);
    }

    @Override
    public String kind() {
        return KIND;
    }

    public double alpha() {
        return alpha;
    }

    @Override
    public RidgeProbe fit(INDArray x, int[] y) {
        return (RidgeProbe) SupervisedProbe.super.fit(x, y);
    }

    /** Fits on labels as regression targets (rows labelled IGNORE and rows outside a split are left out). */
    @Override
    public RidgeProbe fit(LabeledRows data) {
        if (hook == null) hook = data.rows().hook();
        int[] labels = data.labels();
        double[] t = new double[labels.length];
        for (int i = 0; i < t.length; i++) t[i] = data.includes(i) ? labels[i] : 0;
        return fit(data.rows(), Nd4j.createFromArray(t).reshape(t.length, 1), data::includes, data.count());
    }

    /** Fits on x [n, d] and targets [n] or [n, t] (any numeric type). */
    public RidgeProbe fit(INDArray x, INDArray targets) {
        RowSource rows = RowSource.of(x, "x");
        if (targets == null || targets.length() == 0 || targets.size(0) != rows.rows() || targets.rank() > 2)
            throw new LoupeException("ridge probe: x has " + rows.rows() + " rows but targets have shape "
                    + (targets == null ? "null" : Arrays.toString(targets.shape())) + "; expected [" + rows.rows()
                    + "] or [" + rows.rows() + ", t]");
        INDArray y = targets.castTo(DataType.DOUBLE);
        if (y.rank() == 1) y = y.reshape(y.length(), 1);
        if (y.isNaN().any() || y.isInfinite().any()) throw new LoupeException("ridge probe: targets must be finite");
        return fit(rows, y, i -> true, rows.rows());
    }

    private RidgeProbe fit(RowSource rows, INDArray y, LongPredicate included, long count) {
        if (count == 0) throw new LoupeException(rows.description() + ": no rows to fit on");
        int d = rows.d();
        long nt = y.size(1);
        int batch = Batching.rows(d, (int) nt);
        ColumnStats stats = ColumnStats.compute(rows, batch, included, count, false, 0);
        INDArray mask = Nd4j.create(DataType.DOUBLE, y.size(0), 1);
        for (long i = 0; i < y.size(0); i++) if (included.test(i)) mask.putScalar(i, 0, 1.0);
        INDArray yMean = y.mul(mask).sum(0).divi(count); // [t]
        INDArray xMean = stats.mean(); // [d] double
        INDArray gram = Nd4j.zeros(DataType.DOUBLE, d, d);
        INDArray xy = Nd4j.zeros(DataType.DOUBLE, d, nt);
        rows.scan(batch, (first, x) -> {
            long b = x.size(0);
            INDArray m = mask.get(NDArrayIndex.interval(first, first + b), NDArrayIndex.all()); // [b, 1]
            INDArray xc = x.castTo(DataType.DOUBLE).subiRowVector(xMean).muliColumnVector(m);
            INDArray yc = y.get(NDArrayIndex.interval(first, first + b), NDArrayIndex.all())
                    .subRowVector(yMean)
                    .muliColumnVector(m);
            gram.addi(Blas.transposeTimesMatrix(xc, xc));
            xy.addi(Blas.transposeTimesMatrix(xc, yc));
            xc.close();
        });
        gram.addi(Nd4j.eye(d).castTo(DataType.DOUBLE).muli(alpha));
        INDArray coef = Blas.solveSpd(gram.add(gram.transpose()).muli(0.5), xy); // [d, t]
        INDArray intercept = yMean.sub(xMean.reshape(1, d).mmul(coef).reshape(nt));
        w = coef.castTo(DataType.FLOAT);
        b = intercept.castTo(DataType.FLOAT);
        extras.clear();
        params.clear();
        params.put("alpha", alpha);
        params.put("targets", nt);
        classes = null;
        metrics.clear();
        return this;
    }

    /** The predictions x W + b: [n] for one target, [n, t] for several. Computed in double, returned as float32. */
    @Override
    public INDArray predict(INDArray x) {
        INDArray xf = checkInput(x, "x").castTo(DataType.DOUBLE);
        INDArray p = xf.mmul(w.castTo(DataType.DOUBLE)).addiRowVector(b.castTo(DataType.DOUBLE));
        return (w.size(1) == 1 ? p.reshape(p.size(0)) : p).castTo(DataType.FLOAT);
    }

    /** R² of the predictions against the labels as numbers. */
    @Override
    public double score(INDArray x, int[] y) {
        double[] t = Arrays.stream(y).asDoubleStream().toArray();
        return score(x, Nd4j.createFromArray(t));
    }

    /** R² of the predictions against targets [n] or [n, t]. */
    public double score(INDArray x, INDArray targets) {
        return Metrics.r2(targets, predict(x));
    }

    /**
     * The accuracy of a regression on integer labels used as a classifier: each prediction [n] rounded to
     * the nearest of the labels that occur.
     */
    public static double roundedAccuracy(INDArray predictions, int[] labels) {
        int[] classes = Arrays.stream(labels).distinct().sorted().toArray();
        double[] p = predictions.castTo(DataType.DOUBLE).toDoubleVector();
        int[] nearest = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            int best = classes[0];
            for (int c : classes) if (Math.abs(p[i] - c) < Math.abs(p[i] - best)) best = c;
            nearest[i] = best;
        }
        return Metrics.accuracy(labels, nearest);
    }

    /** The coefficients of the (first) target, [d]. */
    @Override
    public INDArray direction() {
        requireFitted();
        return w.getColumn(0).dup();
    }
}
