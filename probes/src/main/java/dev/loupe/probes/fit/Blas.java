package dev.loupe.probes.fit;

import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The matrix products and factorizations probes need, each written the way ND4J 1.0.0-M2.1 runs
 * fastest (measured on [100000, 768] float32): a matrix times a rank-1 vector is a real BLAS GEMV
 * through {@code level2().gemv} (13 ms); ND4J's {@code mmul}/{@code gemm} with a [d, 1] column goes
 * through GEMM and takes 37–45 ms. The transposed product uses the 'f'-ordered transpose view (16 ms,
 * no copy).
 */
public final class Blas {
    private Blas() {}

    /** {@code out[b] = x[b, d] · v[d]}; x c-ordered (a row-interval view is fine), v and out rank 1. */
    public static void rowsTimesVector(INDArray x, INDArray v, INDArray out) {
        Nd4j.getBlasWrapper().level2().gemv('c', 'N', 1.0, x, v, 0.0, out);
    }

    /** {@code out[d] = xᵀ[d, b] · r[b]}. */
    public static void transposeTimesVector(INDArray x, INDArray r, INDArray out) {
        Nd4j.exec(new Mmul(x.transpose(), r, out, MMulTranspose.allFalse()));
    }

    /**
     * Column means of {@code x[m, d]} (float32), weighted by {@code rowWeights[m]} when given
     * ((1/m) Σᵢ wᵢ xᵢⱼ), as one GEMV. [d] double.
     */
    public static INDArray columnMeans(INDArray x, INDArray rowWeights) {
        long m = x.size(0);
        INDArray w = rowWeights == null
                ? Nd4j.ones(DataType.FLOAT, m)
                : rowWeights.castTo(DataType.FLOAT).reshape(m);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, x.size(1));
        transposeTimesVector(x, w, out);
        return out.castTo(DataType.DOUBLE).divi(m);
    }

    /** {@code x[b, d] · w[d, k]} as a new c-ordered [b, k] array. */
    public static INDArray rowsTimesMatrix(INDArray x, INDArray w) {
        INDArray out = Nd4j.createUninitialized(x.dataType(), new long[] {x.size(0), w.size(1)}, 'f');
        Nd4j.gemm(x, w, out, false, false, 1.0, 0.0);
        return out;
    }

    /** {@code xᵀ[d, b] · r[b, k]} as a new [d, k] array. */
    public static INDArray transposeTimesMatrix(INDArray x, INDArray r) {
        INDArray out = Nd4j.createUninitialized(x.dataType(), new long[] {x.size(1), r.size(1)}, 'f');
        Nd4j.gemm(x, r, out, true, false, 1.0, 0.0);
        return out;
    }

    /**
     * The lower Cholesky factor L of a symmetric positive definite matrix (L Lᵀ = a), in double, by
     * LAPACK's {@code potrf}. (ND4J's {@code cholesky} op refuses matrices whose determinant
     * underflows, which is every large one.)
     *
     * @throws IllegalArgumentException when a is not positive definite
     */
    public static INDArray cholesky(INDArray a) {
        int d = (int) a.size(0);
        INDArray l = a.castTo(DataType.DOUBLE).dup('f');
        Nd4j.getBlasWrapper().lapack().potrf(l, true);
        double[] v = l.dup('c').data().asDouble(); // row-major copy
        for (int i = 0; i < d; i++) {
            if (!(v[i * d + i] > 0)) throw new IllegalArgumentException("matrix is not positive definite");
            for (int j = i + 1; j < d; j++) v[i * d + j] = 0;
        }
        return Nd4j.createFromArray(v).reshape('c', d, d);
    }

    /**
     * L⁻¹ of a lower-triangular L, row by row: row i of L⁻¹ is (e_i − Σ_{k<i} L[i,k] L⁻¹[k,:]) / L[i,i].
     * d³/6 multiply-adds in plain loops over contiguous rows, once per fit: ND4J's triangular-solve
     * op took 15 s for d = 768, its {@code matrix_inverse} refuses large matrices, and its
     * {@code trsm} passes LAPACK an illegal argument.
     */
    public static INDArray lowerInverse(INDArray l) {
        int d = (int) l.size(0);
        double[] a = l.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] x = new double[d * d];
        for (int i = 0; i < d; i++) {
            int ri = i * d;
            for (int k = 0; k < i; k++) {
                double c = a[ri + k];
                if (c == 0) continue;
                int rk = k * d;
                for (int j = 0; j <= k; j++) x[ri + j] -= c * x[rk + j];
            }
            x[ri + i] += 1;
            double inv = 1.0 / a[ri + i];
            for (int j = 0; j <= i; j++) x[ri + j] *= inv;
        }
        return Nd4j.createFromArray(x).reshape('c', d, d);
    }

    /**
     * Solves {@code a x = b} for symmetric positive definite a [d, d] and b [d, t]: Cholesky, then
     * forward and back substitution (d²·t multiply-adds, once per fit).
     */
    public static INDArray solveSpd(INDArray a, INDArray b) {
        int d = (int) a.size(0), t = (int) b.size(1);
        double[] l = cholesky(a).data().asDouble();
        double[] x = b.castTo(DataType.DOUBLE).dup('f').data().asDouble(); // column-major: column c at c*d
        for (int c = 0; c < t; c++) {
            int o = c * d;
            for (int i = 0; i < d; i++) { // L y = b
                double s = x[o + i];
                for (int k = 0; k < i; k++) s -= l[i * d + k] * x[o + k];
                x[o + i] = s / l[i * d + i];
            }
            for (int i = d - 1; i >= 0; i--) { // Lᵀ x = y
                double s = x[o + i];
                for (int k = i + 1; k < d; k++) s -= l[k * d + i] * x[o + k];
                x[o + i] = s / l[i * d + i];
            }
        }
        return Nd4j.createFromArray(x).reshape('f', d, t).dup('c');
    }
}
