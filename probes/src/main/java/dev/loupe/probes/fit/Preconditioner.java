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
        // the power iteration).
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
     * Power iteration on the correlation matrix Zᵀ Z / m, Z = X ⊘ σ the centred sample X [m, d] with
     * unit-variance columns (the scaling applied to the vectors, so Z is never formed). Each estimate
     * ‖Zᵀ Z v‖ / m (v of unit length) is at most the largest eigenvalue, so the iteration stops as soon
     * as one passes {@code enough}, or when it has settled (relative change under 1e-3: the 4x threshold
     * is a heuristic that no 0.1% decides), or after 30
     * steps.
     */
    private static double largestCorrelationEigenvalue(INDArray centred, INDArray var, double enough) {
        long m = centred.size(0);
        int d = (int) centred.size(1);
        INDArray inverseSigma = Transforms.pow(var.add(1e-30), -0.5, false).castTo(DataType.FLOAT); // [d]
        INDArray v = Nd4j.ones(DataType.FLOAT, d).divi(Math.sqrt(d));
        INDArray zv = Nd4j.createUninitialized(DataType.FLOAT, m), next = Nd4j.createUninitialized(DataType.FLOAT, d);
        double eigenvalue = 0;
        for (int it = 0; it < 30; it++) {
            Blas.rowsTimesVector(centred, v.mul(inverseSigma), zv); // Z v
            Blas.transposeTimesVector(centred, zv, next);
            next.muli(inverseSigma); // Zᵀ Z v
            double previous = eigenvalue;
            eigenvalue = next.norm2Number().doubleValue() / m;
            if (!(eigenvalue > 0)) return 0;
            if (eigenvalue > enough || Math.abs(eigenvalue - previous) < 1e-3 * eigenvalue) return eigenvalue;
            v = next.div(next.norm2Number());
        }
        return eigenvalue;
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
