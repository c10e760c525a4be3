package dev.loupe.saes.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The sparse kernels against the dense products they replace, with OpenBLAS and with the Java loops. */
class SparseOpsTest {
    @Test
    void sparseProductsEqualDenseOnes() {
        for (boolean java : new boolean[] {false, true}) {
            RowBlas.forceJava = java;
            try {
                check(java ? "java" : "openblas");
            } finally {
                RowBlas.forceJava = false;
            }
        }
    }

    private static void check(String what) {
        int n = 37, s = 300, d = 20, k = 5;
        Nd4j.getRandom().setSeed(11);
        INDArray pre = Nd4j.randn(DataType.FLOAT, n, s);
        SparseCodes codes = TopKSelect.perRow(pre, k);
        INDArray dense = codes.toDense(); // [n, s]
        // every row keeps its k largest
        for (int b = 0; b < n; b++) {
            double kth = Nd4j.sort(pre.getRow(b).dup(), false).getDouble(k - 1);
            for (int e = codes.rowStart()[b]; e < codes.rowStart()[b + 1]; e++)
                assertTrue(codes.value()[e] >= kth, what + ": row " + b);
        }
        INDArray w = Nd4j.randn(DataType.FLOAT, s, d), g = Nd4j.randn(DataType.FLOAT, n, d);
        INDArray out = Nd4j.zeros(DataType.FLOAT, n, d);
        SparseOps.decodeInto(codes, codes.value(), w, out);
        assertClose(dense.mmul(w), out, what + " decode");
        float[] dots = SparseOps.entryDots(codes, g, w);
        INDArray full = g.mmul(w.transpose()); // [n, s]
        int[] rows = codes.entryRows();
        for (int e = 0; e < codes.size(); e++)
            assertEquals(full.getDouble(rows[e], codes.index()[e]), dots[e], 1e-4, what + " dot " + e);
        INDArray grad = Nd4j.ones(DataType.FLOAT, s, d); // overwritten
        SparseOps.scatterRows(codes, codes.byLatent(), rows, codes.value(), g, grad, true);
        assertClose(dense.transpose().mmul(g), grad, what + " scatter");
        SparseOps.scatterRows(codes, codes.byLatent(), rows, codes.value(), g, grad, false);
        assertClose(dense.transpose().mmul(g).muli(2), grad, what + " scatter-add");
        float[] sums = SparseOps.latentSums(codes.byLatent(), codes.value(), s);
        INDArray col = dense.sum(0);
        for (int f = 0; f < s; f++) assertEquals(col.getDouble(f), sums[f], 1e-4);
    }

    private static void assertClose(INDArray expected, INDArray got, String what) {
        double diff = expected.sub(got).amaxNumber().doubleValue();
        assertTrue(diff < 1e-4, what + " differs by " + diff);
    }

    @Test
    void batchTopKKeepsTheLargestOfTheWholeBatch() {
        Nd4j.getRandom().setSeed(5);
        INDArray pre = Nd4j.randn(DataType.FLOAT, 50, 40);
        SparseCodes codes = TopKSelect.batch(pre, 3 * 50);
        assertEquals(150, codes.size());
        double cut = Nd4j.sort(pre.reshape(-1).dup(), false).getDouble(149);
        for (float v : codes.value()) assertTrue(v >= cut);
        // fewer positive values than asked for: all of them, no zeros
        INDArray neg = pre.neg().subi(10); // all negative
        neg.putScalar(3, 7, 1.5f);
        SparseCodes one = TopKSelect.batch(neg, 100);
        assertEquals(1, one.size());
        assertEquals(3, one.entryRows()[0]);
        assertEquals(7, one.index()[0]);
    }
}
