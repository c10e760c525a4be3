package dev.loupe.probes.fit;

import dev.loupe.probes.Precondition;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A linear change of variables U = P V for the optimizer, with P Pᵀ ≈ H₀⁻¹ where
 * H₀ = κ·Cov(x') + λI is the Hessian of a linear model's loss at its start (κ the loss curvature
 * per row, Cov the covariance of the features the coefficients act on, λ the L2 strength).
 * Whitening (P = L⁻ᵀ, L the Cholesky factor of H₀ estimated on a sample of rows) makes anisotropic,
 * correlated activations look isotropic to L-BFGS; the diagonal form rescales each feature only.
 */
public final class Preconditioner {
    private final Precondition kind;
    private final INDArray lowerInverse; // L⁻¹ [d, d] (whitening): P = L⁻ᵀ
    private final INDArray diagonal; // p [d] (diagonal): P = diag(p)

    private Preconditioner(Precondition kind, INDArray lowerInverse, INDArray diagonal) {
        this.kind = kind;
        this.lowerInverse = lowerInverse;
        this.diagonal = diagonal;
    }

    public static Preconditioner identity() {
        return new Preconditioner(Precondition.NONE, null, null);
    }

    /** The kind applied (AUTO resolved). */
    public Precondition kind() {
        return kind;
    }

    /**
     * @param kind   NONE, DIAGONAL, WHITEN, or AUTO: WHITEN when the features are strongly correlated
     *               (the largest eigenvalue of the sample's correlation matrix is over 4 times what
     *               independent features would give) and d ≤ 2048, else DIAGONAL
     * @param sample [m, d] float32 rows (raw features)
     * @param scale  s [d]: the coefficients act on x ⊘ s
     * @param kappa  curvature of the loss per row at the start
     * @param lambda L2 strength
     */
    public static Preconditioner fromSample(
            Precondition kind, INDArray sample, INDArray scale, double kappa, double lambda) {
        if (kind == Precondition.NONE || sample == null || sample.size(0) < 2) return identity();
        int d = (int) sample.size(1);
        long m = sample.size(0);
        INDArray centred = sample.subRowVector(sample.mean(0)).diviRowVector(scale.castTo(DataType.FLOAT)); // [m, d]
        INDArray var = centred.mul(centred).mean(0).castTo(DataType.DOUBLE); // [d]
        if (kind == Precondition.AUTO) {
            boolean correlated = d <= 2048
                    && largestCorrelationEigenvalue(centred, var) > 4 * Math.pow(1 + Math.sqrt((double) d / m), 2);
            kind = correlated ? Precondition.WHITEN : Precondition.DIAGONAL;
        }
        if (kind == Precondition.DIAGONAL) {
            INDArray p = Transforms.pow(var.mul(kappa).addi(lambda + 1e-300), -0.5, false);
            return new Preconditioner(Precondition.DIAGONAL, null, p);
        }
        INDArray cov = Blas.transposeTimesMatrix(centred, centred)
                .castTo(DataType.DOUBLE)
                .divi(m); // [d, d]
        cov = cov.add(cov.transpose()).muli(0.5 * kappa);
        double trace = Nd4j.diag(cov).sumNumber().doubleValue();
        double ridge = Math.max(lambda, 1e-10 * trace / d + 1e-300);
        cov.addi(Nd4j.eye(d).castTo(DataType.DOUBLE).muli(ridge));
        return new Preconditioner(Precondition.WHITEN, Blas.lowerInverse(Blas.cholesky(cov)), null);
    }

    /** Power iteration on the correlation matrix Zᵀ Z / m, Z the centred sample with unit-variance columns. */
    private static double largestCorrelationEigenvalue(INDArray centred, INDArray var) {
        long m = centred.size(0);
        int d = (int) centred.size(1);
        INDArray z = centred.divRowVector(Transforms.sqrt(var.add(1e-30), false).castTo(DataType.FLOAT));
        INDArray v = Nd4j.ones(DataType.FLOAT, d).divi(Math.sqrt(d));
        INDArray zv = Nd4j.createUninitialized(DataType.FLOAT, m), next = Nd4j.createUninitialized(DataType.FLOAT, d);
        double lambda = 0;
        for (int it = 0; it < 30; it++) {
            Blas.rowsTimesVector(z, v, zv);
            Blas.transposeTimesVector(z, zv, next);
            lambda = next.norm2Number().doubleValue() / m;
            if (!(lambda > 0)) return 0;
            v = next.div(next.norm2Number());
        }
        return lambda;
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
}
