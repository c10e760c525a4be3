package dev.loupe.probes.fit;

import dev.loupe.probes.Precondition;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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
        // Column reductions are GEMVs, and every [m, d] temporary is closed when done: ND4J frees an
        // array's memory only at GC otherwise, and each fresh 9 MB array then costs ~28 ms of page
        // faults on a VM (the whole preconditioner took 120-175 ms before, 60-100 ms after, most of it
        // the eigenvalue test, then a power iteration; Lanczos since, 4 steps for independent features: 16-35 ms).
        INDArray centred = sample.subRowVector(Blas.columnMeans(sample, null).castTo(DataType.FLOAT));
        centred.diviRowVector(scale.castTo(DataType.FLOAT)); // [m, d]
        try {
            INDArray h; // diagonal of H without λ: (1/m) Σᵢ Dᵢ x'ᵢⱼ²
            try (INDArray squares = centred.mul(centred)) { // [m, d]
                INDArray var = Blas.columnMeans(squares, null);
                if (kind == Precondition.AUTO) {
                    double independent = 4 * Math.pow(1 + Math.sqrt((double) d / m), 2);
                    boolean correlated =
                            d <= 2048 && largestCorrelationEigenvalue(centred, var, independent) > independent;
                    kind = correlated ? Precondition.WHITEN : Precondition.DIAGONAL;
                }
                h = curvature == null ? var.muli(kappa) : Blas.columnMeans(squares, curvature);
            }
            if (kind == Precondition.DIAGONAL)
                return new Preconditioner(
                        Precondition.DIAGONAL, null, null, Transforms.pow(h.addi(lambda + 1e-300), -0.5, false));
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
            centred.close();
        }
    }

    /**
     * The largest eigenvalue of the correlation matrix C = Zᵀ Z / m, Z = X ⊘ σ the centred sample X
     * [m, d] with unit-variance columns (the scaling applied to the vectors, so Z is never formed), by
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
    static double largestCorrelationEigenvalue(INDArray centred, INDArray var, double enough) {
        long m = centred.size(0);
        int d = (int) centred.size(1);
        double[] inverseSigma = Transforms.pow(var.add(1e-30), -0.5, false).toDoubleVector();
        INDArray zq = Nd4j.createUninitialized(DataType.FLOAT, m),
                product = Nd4j.createUninitialized(DataType.FLOAT, d);
        float[] scaled = new float[d];
        double[] q = new double[d], previousQ = new double[d], w = new double[d];
        java.util.Arrays.fill(q, 1 / Math.sqrt(d));
        double[] alpha = new double[30], beta = new double[30]; // beta[j] links q_j and q_(j+1)
        double estimate = 0;
        for (int j = 0; j < 30; j++) {
            // w = C q_j = σ⁻¹ ⊙ Xᵀ(X (σ⁻¹ ⊙ q_j)) / m
            for (int i = 0; i < d; i++) scaled[i] = (float) (q[i] * inverseSigma[i]);
            Blas.rowsTimesVector(centred, Nd4j.createFromArray(scaled), zq);
            Blas.transposeTimesVector(centred, zq, product);
            float[] cq = product.toFloatVector();
            double a = 0;
            for (int i = 0; i < d; i++) {
                w[i] = cq[i] * inverseSigma[i] / m;
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
