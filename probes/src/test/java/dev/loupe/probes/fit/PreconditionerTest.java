package dev.loupe.probes.fit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.probes.Precondition;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/** The AUTO choice's eigenvalue estimate (Lanczos) against a full eigendecomposition, and the choice itself. */
class PreconditionerTest {

    @Test
    void tridiagonalLargestEigenvalueIsExact() {
        int n = 12;
        double[] a = new double[n], b = new double[n];
        java.util.Arrays.fill(a, 2);
        java.util.Arrays.fill(b, -1);
        // the second-difference matrix: eigenvalues 2 − 2 cos(kπ / (n + 1)), k = 1..n
        assertEquals(
                2 - 2 * Math.cos(n * Math.PI / (n + 1)), Preconditioner.largestTridiagonalEigenvalue(a, b, n), 1e-10);
        assertEquals(5.0, Preconditioner.largestTridiagonalEigenvalue(new double[] {5}, new double[] {0}, 1), 1e-10);
    }

    @Test
    void lanczosFindsTheCorrelationMatrixsLargestEigenvalue() {
        for (double shared : new double[] {0, 0.3, 1.0}) {
            INDArray x = sample(600, 48, shared, 7);
            INDArray centred = x.subRowVector(x.mean(0));
            INDArray var = centred.mul(centred).mean(0).castTo(DataType.DOUBLE);
            // exact: C = Zᵀ Z / m with Z the columns scaled to unit variance, in double
            INDArray z = centred.castTo(DataType.DOUBLE)
                    .diviRowVector(org.nd4j.linalg.ops.transforms.Transforms.sqrt(var, true));
            INDArray c = z.transpose().mmul(z).divi(x.size(0));
            double exact =
                    Eigen.symmetricGeneralizedEigenvalues(c.dup()).maxNumber().doubleValue();
            // the raw rows, centred by the method: the sample's columns are offset by 0.1 j
            double got = Preconditioner.largestCorrelationEigenvalue(
                    x, x.mean(0).toDoubleVector(), ones(48), var, Double.POSITIVE_INFINITY);
            // a lower bound (Ritz values interlace), stopped once it settles: close enough for a 4x threshold
            assertTrue(
                    got <= exact * (1 + 1e-6) && got >= 0.97 * exact,
                    "shared factor " + shared + ": " + got + " vs " + exact);
        }
    }

    @Test
    void autoWhitensStronglyCorrelatedFeaturesOnly() {
        INDArray scale = Nd4j.ones(DataType.DOUBLE, 64);
        Precondition independent = Preconditioner.fromSample(
                        Precondition.AUTO, sample(1024, 64, 0, 3), scale, null, 0.25, 1e-4)
                .kind();
        Precondition correlated = Preconditioner.fromSample(
                        Precondition.AUTO, sample(1024, 64, 1.0, 3), scale, null, 0.25, 1e-4)
                .kind();
        assertEquals(Precondition.DIAGONAL, independent);
        assertEquals(Precondition.WHITEN, correlated);
    }

    @Test
    void stoppingEarlyDecidesAsTheExactEigenvalueDoes() {
        // d = 64, m = 1024: independent features' edge (1 + √(d/m))² = 1.5625, threshold 4x = 6.25; a shared
        // factor of weight s gives λ ≈ 1 + (d − 1) s² / (1 + s²): about 4.7 for s = 0.25, 9 for 0.38
        int m = 1024, d = 64;
        double enough = 4 * Math.pow(1 + Math.sqrt((double) d / m), 2);
        for (double shared : new double[] {0, 0.2, 0.25, 0.3, 0.33, 0.36, 0.4, 0.5}) {
            INDArray x = sample(m, d, shared, 11);
            INDArray centred = x.subRowVector(x.mean(0));
            INDArray var = centred.mul(centred).mean(0).castTo(DataType.DOUBLE);
            INDArray z = centred.castTo(DataType.DOUBLE)
                    .diviRowVector(org.nd4j.linalg.ops.transforms.Transforms.sqrt(var, true));
            double exact = Eigen.symmetricGeneralizedEigenvalues(
                            z.transpose().mmul(z).divi(m))
                    .maxNumber()
                    .doubleValue();
            double got =
                    Preconditioner.largestCorrelationEigenvalue(x, x.mean(0).toDoubleVector(), ones(d), var, enough);
            assertEquals(exact > enough, got > enough, "shared factor " + shared + ": exact " + exact + ", got " + got);
        }
    }

    @Test
    void centredColumnMeansOfSquaresAreTheDirectOnes() {
        INDArray x = sample(600, 20, 0.5, 5); // 600 rows: blocks of 256, 256 and 88
        double[] mean = x.mean(0).toDoubleVector(), scale = new double[20];
        for (int j = 0; j < 20; j++) scale[j] = 0.5 + 0.1 * j;
        INDArray weights = Nd4j.rand(DataType.DOUBLE, 600);
        INDArray centred = x.castTo(DataType.DOUBLE)
                .subiRowVector(Nd4j.createFromArray(mean))
                .diviRowVector(Nd4j.createFromArray(scale));
        INDArray squares = centred.mul(centred);
        INDArray plain = squares.mean(0),
                weighted = squares.mulColumnVector(weights.reshape(600, 1)).mean(0);
        assertTrue(
                Preconditioner.centredColumnMeansOfSquares(x, mean, scale, null).equalsWithEps(plain, 1e-5));
        assertTrue(Preconditioner.centredColumnMeansOfSquares(x, mean, scale, weights)
                .equalsWithEps(weighted, 1e-5));
    }

    private static double[] ones(int n) {
        double[] v = new double[n];
        java.util.Arrays.fill(v, 1);
        return v;
    }

    /** m rows of d Gaussian features plus {@code shared} times one Gaussian factor common to all, float32. */
    private static INDArray sample(int m, int d, double shared, long seed) {
        Random r = new Random(seed);
        float[] v = new float[m * d];
        for (int i = 0; i < m; i++) {
            double f = r.nextGaussian();
            for (int j = 0; j < d; j++) v[i * d + j] = (float) (r.nextGaussian() + shared * f + 0.1 * j);
        }
        return Nd4j.createFromArray(v).reshape('c', m, d);
    }
}
