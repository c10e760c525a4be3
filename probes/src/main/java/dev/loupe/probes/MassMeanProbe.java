package dev.loupe.probes;

import dev.loupe.engine.LoupeException;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.fit.Batching;
import dev.loupe.probes.fit.Blas;
import dev.loupe.probes.fit.ColumnStats;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The mass-mean (difference-of-means) probe of Marks and Tegmark, "The Geometry of Truth": the
 * direction is θ = μ₁ − μ₀, the mean of the second class's rows minus the first's, computed in double.
 * With {@code lda(true)} the direction is covariance-corrected, Σ⁻¹θ with Σ the pooled within-class
 * covariance (plus {@code shrinkage} × its mean variance on the diagonal), which is Fisher's linear
 * discriminant (their "iid" mass-mean probe).
 *
 * <p>Probabilities come from the rows' projections t = x·direction: one Gaussian per class with a
 * shared variance v, so {@code logit = (m₁ − m₀)/v · (t − (m₁ + m₀)/2) + log(π₁/π₀)} (m the class means
 * of t, π the class shares): the LDA rule on the projection. Two classes only.
 */
public final class MassMeanProbe extends LinearProbe implements SupervisedProbe {
    public static final String KIND = "mass-mean";
    private final boolean lda;
    private final double shrinkage;

    private MassMeanProbe(boolean lda, double shrinkage, String hook) {
        super(hook);
        if (!(shrinkage >= 0)) throw new LoupeException("mass-mean probe: shrinkage must be >= 0, got " + shrinkage);
        this.lda = lda;
        this.shrinkage = shrinkage;
    }

    MassMeanProbe(State s) {
        super(s);
        this.lda = Boolean.TRUE.equals(s.params().get("lda"));
        this.shrinkage = ((Number) s.params().getOrDefault("shrinkage", 0.0)).doubleValue();
    }

    /** The plain difference of means. */
    public static MassMeanProbe create() {
        return new MassMeanProbe(false, 0, null);
    }

    /**
     * @param lda       covariance-corrected direction Σ⁻¹(μ₁ − μ₀)
     * @param shrinkage added to Σ's diagonal as a multiple of its mean variance (1e-3 keeps Σ invertible
     *                  when d exceeds the rows or features are collinear)
     */
    public static MassMeanProbe create(boolean lda, double shrinkage, String hook) {
        return new MassMeanProbe(lda, shrinkage, hook);
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public MassMeanProbe fit(INDArray x, int[] y) {
        return (MassMeanProbe) SupervisedProbe.super.fit(x, y);
    }

    @Override
    public MassMeanProbe fit(LabeledRows data) {
        if (hook == null) hook = data.rows().hook();
        String what = data.rows().description();
        int[] cls = data.classes();
        if (cls.length != 2)
            throw new LoupeException(what + ": a mass-mean probe separates two classes, but the labels have "
                    + cls.length + " (" + Arrays.toString(Arrays.copyOf(cls, Math.min(cls.length, 10)))
                    + (cls.length > 10 ? "..." : "") + "); use a logistic probe");
        int d = data.rows().d();
        int batch = Batching.rows(d, 2);
        ColumnStats.compute(data.rows(), batch, data::includes, data.count(), false, 0); // finite check
        int[] labels = data.labels();
        // class sums in double: [d, 2] = Xᵀ onehot
        INDArray sums = Nd4j.zeros(DataType.DOUBLE, d, 2);
        long[] counts = new long[2];
        data.rows().scan(batch, (first, x) -> {
            int n = (int) x.size(0);
            double[] oh = new double[n * 2];
            for (int i = 0; i < n; i++) {
                if (!data.includes(first + i)) continue;
                int k = labels[(int) first + i] == cls[1] ? 1 : 0;
                oh[i * 2 + k] = 1;
                counts[k]++;
            }
            sums.addi(Blas.transposeTimesMatrix(
                    x.castTo(DataType.DOUBLE), Nd4j.createFromArray(oh).reshape(n, 2)));
        });
        INDArray mu0 = sums.getColumn(0).div(counts[0]), mu1 = sums.getColumn(1).div(counts[1]);
        INDArray theta = mu1.sub(mu0); // [d] double: the difference of means
        INDArray dir = theta;
        if (lda) {
            INDArray cov = withinClassCovariance(data, cls, mu0, mu1, batch); // [d, d]
            double meanVar = Nd4j.diag(cov).sumNumber().doubleValue() / d;
            cov.addi(Nd4j.eye(d).castTo(DataType.DOUBLE).muli(shrinkage * meanVar + 1e-12 * meanVar));
            dir = Blas.solveSpd(cov, theta.reshape(d, 1)).reshape(d);
        }
        // class means and pooled variance of the projection t = x·dir
        INDArray dir32 = dir.castTo(DataType.FLOAT);
        double m0 = mu0.mul(dir).sumNumber().doubleValue(),
                m1 = mu1.mul(dir).sumNumber().doubleValue();
        double[] ss = {0};
        data.rows().scan(batch, (first, x) -> {
            int n = (int) x.size(0);
            INDArray t = Nd4j.createUninitialized(DataType.FLOAT, n);
            Blas.rowsTimesVector(x, dir32, t);
            double[] tv = t.toDoubleVector();
            for (int i = 0; i < n; i++) {
                if (!data.includes(first + i)) continue;
                double c = tv[i] - (labels[(int) first + i] == cls[1] ? m1 : m0);
                ss[0] += c * c;
            }
        });
        double v = Math.max(ss[0] / (counts[0] + counts[1] - 2.0 > 0 ? counts[0] + counts[1] - 2.0 : 1), 1e-30);
        double scale = (m1 - m0) / v;
        double c = -scale * (m1 + m0) / 2 + Math.log((double) counts[1] / counts[0]);
        INDArray[] wb = twoClass(dir.mul(scale), c);
        w = wb[0];
        b = wb[1];
        classes = cls;
        extras.clear();
        extras.put("direction", dir.castTo(DataType.FLOAT));
        params.clear();
        params.put("lda", lda);
        params.put("shrinkage", shrinkage);
        metrics.clear();
        return this;
    }

    /** Σ = Σ_i (x_i − μ_{y_i})(x_i − μ_{y_i})ᵀ / (n − 2), accumulated in double over batches. */
    private static INDArray withinClassCovariance(LabeledRows data, int[] cls, INDArray mu0, INDArray mu1, int batch) {
        int d = data.rows().d();
        INDArray cov = Nd4j.zeros(DataType.DOUBLE, d, d);
        int[] labels = data.labels();
        data.rows().scan(batch, (first, x) -> {
            int n = (int) x.size(0);
            double[] isOne = new double[n], include = new double[n];
            for (int i = 0; i < n; i++) {
                include[i] = data.includes(first + i) ? 1 : 0;
                isOne[i] = labels[(int) first + i] == cls[1] ? 1 : 0;
            }
            INDArray one = Nd4j.createFromArray(isOne).reshape(n, 1);
            // per-row class mean: mu0 + isOne (mu1 - mu0)
            INDArray means = one.mmul(mu1.sub(mu0).reshape(1, d)).addiRowVector(mu0);
            INDArray xc = x.castTo(DataType.DOUBLE)
                    .subi(means)
                    .muliColumnVector(Nd4j.createFromArray(include).reshape(n, 1));
            cov.addi(Blas.transposeTimesMatrix(xc, xc));
        });
        long n = data.count();
        return cov.divi(Math.max(1, n - 2));
    }

    /** The difference of means μ₁ − μ₀ (plain) or Σ⁻¹(μ₁ − μ₀) (LDA), [d] float32. */
    @Override
    public INDArray direction() {
        return super.direction();
    }
}
