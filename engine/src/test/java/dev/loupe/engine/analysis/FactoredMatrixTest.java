package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.TestModels;
import java.util.Arrays;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class FactoredMatrixTest {
    static INDArray random(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape);
    }

    static double maxDiff(INDArray a, INDArray b) {
        return ResidualStreamTest.maxDiff(a, b);
    }

    @Test
    void productsTransposeAndNormMatchTheFullMatrix() {
        INDArray a = random(1, 3, 7, 4), b = random(2, 3, 4, 6); // three 7x6 matrices of rank 4
        FactoredMatrix f = new FactoredMatrix(a, b);
        assertArrayEquals(new long[] {3, 7, 6}, f.shape());
        INDArray full = f.ab();
        for (int i = 0; i < 3; i++) assertTrue(maxDiff(full.slice(i), a.slice(i).mmul(b.slice(i))) < 1e-12);
        assertTrue(maxDiff(f.t().ab().slice(1), full.slice(1).transpose()) < 1e-12);
        INDArray x = random(3, 6, 5), y = random(4, 2, 7);
        assertTrue(maxDiff(f.matmul(x).ab().slice(2), full.slice(2).mmul(x)) < 1e-10);
        assertTrue(maxDiff(f.rmatmul(y).ab().slice(0), y.mmul(full.slice(0))) < 1e-10);
        assertTrue(maxDiff(
                        f.get(1).matmul(f.get(1).t()).ab(),
                        full.slice(1).mmul(full.slice(1).transpose()))
                < 1e-10);
        for (int i = 0; i < 3; i++)
            assertEquals(full.slice(i).norm2Number().doubleValue(), f.norm().getDouble(i), 1e-10);
        INDArray v = random(5, 6);
        assertTrue(
                maxDiff(f.apply(v).slice(2), full.slice(2).mmul(v.reshape(6, 1)).reshape(7)) < 1e-10);
        assertThrows(LoupeException.class, () -> new FactoredMatrix(random(1, 3, 4), random(1, 5, 2)));
    }

    @Test
    void svdAndEigenvaluesWithoutTheFullMatrix() {
        INDArray a = random(6, 2, 9, 3), b = random(7, 2, 3, 9);
        FactoredMatrix f = new FactoredMatrix(a, b);
        FactoredMatrix.Svd svd = f.svd();
        assertArrayEquals(new long[] {2, 9, 3}, svd.u().shape());
        assertArrayEquals(new long[] {2, 3}, svd.s().shape());
        for (int i = 0; i < 2; i++) {
            INDArray m = f.ab().slice(i);
            INDArray rebuilt = svd.u()
                    .slice(i)
                    .mulRowVector(svd.s().slice(i))
                    .mmul(svd.v().slice(i).transpose());
            assertTrue(maxDiff(rebuilt, m) < 1e-10, "U S V^T");
            double[] want =
                    new SingularValueDecomposition(new Array2DRowRealMatrix(m.toDoubleMatrix())).getSingularValues();
            for (int c = 0; c < 3; c++) assertEquals(want[c], svd.s().getDouble(i, c), 1e-10);
            // eigenvalues of A B (9x9, rank 3) are those of B A (3x3) plus zeros
            EigenDecomposition e = new EigenDecomposition(new Array2DRowRealMatrix(m.toDoubleMatrix()));
            double[] full = e.getRealEigenvalues().clone(),
                    mine = f.eigenvalues().real().slice(i).toDoubleVector();
            Arrays.sort(full);
            Arrays.sort(mine);
            assertEquals(full[0], mine[0], 1e-8);
            assertEquals(full[8], mine[2], 1e-8);
            assertEquals(Arrays.stream(full).sum(), Arrays.stream(mine).sum(), 1e-9); // the trace
        }
        assertTrue(maxDiff(f.makeEven().ab(), f.ab()) < 1e-10);
        assertTrue(maxDiff(f.collapseR().slice(1).mmul(f.svd().v().slice(1).transpose()), f.ab().slice(1)) < 1e-10);
    }

    /** A composition score is ||L R|| / (||L|| ||R||) of the full matrices (the SVD's orthogonal factors drop out). */
    @Test
    void compositionScoresOfTheModel() {
        HookedTransformer m =
                TestModels.model(TestModels.all("float64").get("llama-like"), 2); // grouped-query: 4 heads, 2 kv heads
        FactoredMatrix ov = FactoredMatrix.ov(m), qk = FactoredMatrix.qk(m);
        assertArrayEquals(new long[] {2, 4, 8, 8}, ov.shape());
        INDArray k = FactoredMatrix.allCompositionScores(m, "K");
        assertArrayEquals(new long[] {2, 4, 2, 4}, k.shape());
        INDArray left = ov.get(0, 1).ab(), right = qk.get(1, 3).t().ab();
        double want = left.mmul(right).norm2Number().doubleValue()
                / left.norm2Number().doubleValue()
                / right.norm2Number().doubleValue();
        assertEquals(want, k.getDouble(0, 1, 1, 3), 1e-10);
        assertEquals(0, k.getDouble(1, 0, 0, 2)); // a later head cannot compose into an earlier one
        assertEquals(0, k.getDouble(1, 0, 1, 2)); // nor one of the same layer
        assertThrows(LoupeException.class, () -> FactoredMatrix.allCompositionScores(m, "X"));
    }
}
