package dev.loupe.probes.fit;

import dev.loupe.probes.Precondition;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A linear change of variables U = P V for the optimizer, with P Pᵀ ≈ H⁻¹ where
 * H = (1/m) Σᵢ Dᵢ x'ᵢ x'ᵢᵀ + λI is the Hessian of a linear model's loss (Dᵢ the loss curvature of
 * row i at the current point, x' the centred features the coefficients act on, λ the L2 strength),
 * estimated on a sample of rows. Whitening (P = L⁻ᵀ, L the Cholesky factor of H) makes anisotropic,
 * correlated activations look isotropic to L-BFGS; the diagonal form rescales each feature only.
 * Recomputed as the fit goes on ({@link #fromSample} with the current curvatures): once a probe
 * separates most rows their curvature vanishes and the penalty λI dominates H.
 */
public final class Preconditioner {
    private final Precondition kind;
    private final INDArray lower; // L [d, d] (whitening): P = L⁻ᵀ, P⁻¹ = Lᵀ
    private final INDArray lowerInverse; // L⁻¹
    private final INDArray diagonal; // p [d] (diagonal): P = diag(p)

    private Preconditioner(Precondition kind, INDArray lower, INDArray lowerInverse, INDArray diagonal) {
        this.kind = kind;
        this.lower = lower;
        this.lowerInverse = lowerInverse;
        this.diagonal = diagonal;
    }

    public static Preconditioner identity() {
        return new Preconditioner(Precondition.NONE, null, null, null);
    }

    /** The kind applied (AUTO resolved). */
    public Precondition kind() {
        return kind;
    }

    /**
     * @param kind      NONE, DIAGONAL, WHITEN, or AUTO: WHITEN when the features are strongly correlated
     *                  (the largest eigenvalue of the sample's correlation matrix is over 4 times what
     *                  independent features would give) and d ≤ 2048, else DIAGONAL
     * @param sample    [m, d] float32 rows (raw features)
     * @param scale     s [d]: the coefficients act on x ⊘ s
     * @param curvature Dᵢ per sample row [m] (double), or null for the same {@code kappa} on every row
     * @param kappa     curvature per row when {@code curvature} is null
     * @param lambda    L2 strength
     */
    public static Preconditioner fromSample(
            Precondition kind, INDArray sample, INDArray scale, INDArray curvature, double kappa, double lambda) {
        if (kind == Precondition.NONE || sample == null || sample.size(0) < 2) return identity();
        int d = (int) sample.size(1);
        long m = sample.size(0);
        // The diagonal and the eigenvalue test read the centred, scaled sample x' = (x − μ) ⊘ s without
        // making it: an [m, d] temporary is fresh memory on most fits (the allocator's free space is
        // split by the fit's small arrays), and its page faults cost ~13 µs per 4 KB on a VM: 30-60 ms
        // for the two 9.4 MB temporaries this used to make, more than everything else here.
        double[] mean = Blas.columnMeans(sample, null).toDoubleVector(), s = scale.toDoubleVector();
        // (1/m) Σᵢ x'ᵢⱼ²: for the eigenvalue test, and as the diagonal when every row has curvature kappa
        INDArray var = kind == Precondition.AUTO || curvature == null
                ? centredColumnMeansOfSquares(sample, mean, s, null)
                : null;
        if (kind == Precondition.AUTO) {
            double independent = 4 * Math.pow(1 + Math.sqrt((double) d / m), 2);
            boolean correlated =
                    d <= 2048 && largestCorrelationEigenvalue(sample, mean, s, var, independent) > independent;
            kind = correlated ? Precondition.WHITEN : Precondition.DIAGONAL;
        }
        // diagonal of H without λ: (1/m) Σᵢ Dᵢ x'ᵢⱼ²
        INDArray h = curvature == null ? var.muli(kappa) : centredColumnMeansOfSquares(sample, mean, s, curvature);
        if (kind == Precondition.DIAGONAL)
            return new Preconditioner(
                    Precondition.DIAGONAL, null, null, Transforms.pow(h.addi(lambda + 1e-300), -0.5, false));
        INDArray centred = sample.subRowVector(Nd4j.createFromArray(mean).castTo(DataType.FLOAT));
        try {
            centred.diviRowVector(scale.castTo(DataType.FLOAT)); // [m, d]
            // rows weighted by √D, so that the product below sums Dᵢ x'ᵢ x'ᵢᵀ
            if (curvature == null) centred.muli(Math.sqrt(kappa));
            else
                centred.muliColumnVector(
                        Transforms.sqrt(curvature, true).castTo(DataType.FLOAT).reshape(m, 1));
            INDArray hessian = Blas.transposeTimesMatrix(centred, centred)
                    .castTo(DataType.DOUBLE)
                    .divi(m); // [d, d]
            hessian = hessian.add(hessian.transpose()).muli(0.5);
            double trace = Nd4j.diag(hessian).sumNumber().doubleValue();
            double ridge = Math.max(lambda, 1e-10 * trace / d + 1e-300);
            hessian.addi(Nd4j.eye(d).castTo(DataType.DOUBLE).muli(ridge));
            INDArray l = Blas.cholesky(hessian);
            return new Preconditioner(Precondition.WHITEN, l, Blas.lowerInverse(l), null);
        } finally {
            centred.close(); // its memory back now, not at some later GC
        }
    }

    /**
     * (1/m) Σᵢ wᵢ ((xᵢⱼ − μⱼ) / sⱼ)² for the sample x [m, d] (weights w [m] double, or null for 1), in
     * blocks of 256 rows through one small buffer: [d] double.
     */
    static INDArray centredColumnMeansOfSquares(INDArray x, double[] mean, double[] scale, INDArray weights) {
        long m = x.size(0);
        int d = (int) x.size(1), rows = (int) Math.min(256, m);
        INDArray mu = Nd4j.createFromArray(mean).castTo(DataType.FLOAT),
                s = Nd4j.createFromArray(scale).castTo(DataType.FLOAT);
        INDArray block = Nd4j.createUninitialized(DataType.FLOAT, rows, d), sums = Nd4j.zeros(DataType.DOUBLE, d);
        INDArray ones = weights == null ? Nd4j.ones(DataType.FLOAT, rows) : null;
        INDArray colSum = Nd4j.createUninitialized(DataType.FLOAT, d);
        try {
            for (long from = 0; from < m; from += rows) {
                int n = (int) Math.min(rows, m - from);
                INDArray c = n == rows ? block : block.get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
                c.assign(x.get(NDArrayIndex.interval(from, from + n), NDArrayIndex.all()))
                        .subiRowVector(mu)
                        .diviRowVector(s);
                c.muli(c);
                INDArray w = weights != null
                        ? weights.get(NDArrayIndex.interval(from, from + n)).castTo(DataType.FLOAT)
                        : n == rows ? ones : ones.get(NDArrayIndex.interval(0, n));
                Blas.transposeTimesVector(c, w, colSum);
                sums.addi(colSum.castTo(DataType.DOUBLE));
            }
        } finally {
            block.close();
        }
        return sums.divi(m);
    }

    /**
     * The largest eigenvalue of the correlation matrix C = Zᵀ Z / m, Z = ((x − 1μᵀ) ⊘ s) ⊘ σ the sample x
     * [m, d] centred, scaled and with unit-variance columns (σ² = {@code var}; the centring and scalings
     * applied to the vectors, so Z is never formed), by
     * Lanczos iteration: step j's estimate, the largest eigenvalue of the j×j tridiagonal matrix it
     * builds, is at most C's and rises with j, so the iteration stops as soon as one passes {@code
     * enough}, or when it has settled (relative change under 1e-3: the 4x threshold is a heuristic that
     * no 0.1% decides), or, from the fourth step on, when ten more rises like the last would still stay
     * below {@code enough} (features near independence: their estimate creeps towards the
     * Marchenko-Pastur edge, 19 steps to settle for m = 3072, d = 768, where 4 decide; a correlated
     * direction's eigenvalue stands apart from the rest and Lanczos finds it in the first few), or
     * after 30 steps. Each step is two GEMVs over the sample; the vectors, of
     * length d, live in Java arrays. (Power iteration needed 21-31 steps for a sample of independent
     * features, Lanczos about a third of that: 40-65 ms became 10-20 ms for m = 3072, d = 768.)
     */
    static double largestCorrelationEigenvalue(INDArray x, double[] mean, double[] scale, INDArray var, double enough) {
        long m = x.size(0);
        int d = (int) x.size(1);
        double[] inverseSigma = Transforms.pow(var.add(1e-30), -0.5, false).toDoubleVector();
        INDArray zq = Nd4j.createUninitialized(DataType.FLOAT, m),
                product = Nd4j.createUninitialized(DataType.FLOAT, d);
        float[] raw = new float[d];
        double[] q = new double[d], previousQ = new double[d], w = new double[d];
        java.util.Arrays.fill(q, 1 / Math.sqrt(d));
        double[] alpha = new double[30], beta = new double[30]; // beta[j] links q_j and q_(j+1)
        double estimate = 0;
        for (int j = 0; j < 30; j++) {
            // w = C q_j = σ⁻¹ ⊙ Zᵀ(Z (σ⁻¹ ⊙ q_j)) / m with Z = (x − 1μᵀ) ⊘ s: Z u = x (u ⊘ s) − (μᵀ(u ⊘ s)) 1,
            // Zᵀ r = (xᵀ r − μ Σᵢ rᵢ) ⊘ s
            double shift = 0;
            for (int i = 0; i < d; i++) {
                double u = q[i] * inverseSigma[i] / scale[i];
                raw[i] = (float) u;
                shift += mean[i] * u;
            }
            Blas.rowsTimesVector(x, Nd4j.createFromArray(raw), zq);
            zq.subi(shift);
            double rSum = zq.sumNumber().doubleValue();
            Blas.transposeTimesVector(x, zq, product);
            float[] cq = product.toFloatVector();
            double a = 0;
            for (int i = 0; i < d; i++) {
                w[i] = (cq[i] - mean[i] * rSum) / scale[i] * inverseSigma[i] / m;
                a += w[i] * q[i];
            }
            alpha[j] = a;
            double b = 0;
            for (int i = 0; i < d; i++) {
                w[i] -= a * q[i] + (j > 0 ? beta[j - 1] * previousQ[i] : 0);
                b += w[i] * w[i];
            }
            beta[j] = Math.sqrt(b);
            double previous = estimate;
            estimate = largestTridiagonalEigenvalue(alpha, beta, j + 1);
            if (!(estimate > 0)) return 0;
            boolean settled = Math.abs(estimate - previous) < 1e-3 * estimate || beta[j] < 1e-12 * estimate;
            boolean staysBelow = j >= 3 && Double.isFinite(enough) && estimate + 10 * (estimate - previous) < enough;
            if (estimate > enough || settled || staysBelow) return estimate;
            double[] t = previousQ;
            previousQ = q;
            q = t;
            for (int i = 0; i < d; i++) q[i] = w[i] / beta[j];
        }
        return estimate;
    }

    /**
     * The largest eigenvalue of the n×n symmetric tridiagonal matrix with diagonal {@code a} and
     * off-diagonal {@code b} (b[i] between rows i and i + 1), by bisection on Sturm sequence counts
     * within Gershgorin's bounds, to a relative 1e-12.
     */
    static double largestTridiagonalEigenvalue(double[] a, double[] b, int n) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            double r = (i > 0 ? Math.abs(b[i - 1]) : 0) + (i < n - 1 ? Math.abs(b[i]) : 0);
            lo = Math.min(lo, a[i] - r);
            hi = Math.max(hi, a[i] + r);
        }
        for (int it = 0; it < 200 && hi - lo > 1e-12 * Math.max(Math.abs(hi), Math.abs(lo)); it++) {
            double x = 0.5 * (lo + hi);
            // Sylvester: the negative pivots of T − xI = L D Lᵀ count the eigenvalues below x
            int below = 0;
            double pivot = 1;
            for (int i = 0; i < n; i++) {
                pivot = a[i] - x - (i > 0 ? b[i - 1] * b[i - 1] / pivot : 0);
                if (pivot == 0) pivot = -1e-300;
                if (pivot < 0) below++;
            }
            if (below == n) hi = x; // every eigenvalue is below x
            else lo = x;
        }
        return 0.5 * (lo + hi);
    }

    /** U = P V for V [d, k]. */
    public INDArray apply(INDArray v) {
        if (lowerInverse != null) return lowerInverse.transpose().mmul(v);
        if (diagonal != null) return v.mulColumnVector(diagonal.reshape(diagonal.length(), 1));
        return v;
    }

    /** Pᵀ G for G [d, k]. */
    public INDArray applyTransposed(INDArray g) {
        if (lowerInverse != null) return lowerInverse.mmul(g);
        if (diagonal != null) return g.mulColumnVector(diagonal.reshape(diagonal.length(), 1));
        return g;
    }

    /** V = P⁻¹ U: the optimizer's coordinates of coefficients U [d, k]. */
    public INDArray invert(INDArray u) {
        if (lower != null) return lower.transpose().mmul(u);
        if (diagonal != null) return u.divColumnVector(diagonal.reshape(diagonal.length(), 1));
        return u;
    }
}
