package dev.loupe.engine.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The native kernels against the ND4J compositions they replace, computed in float64: causal
 * attention (scores, causal mask, softmax, pattern times values; outputs and the gradients of q, k
 * and v) and GELU (values and gradients).
 */
class NativeKernelsTest {

    /** The composition in float64: z, and the gradients of sum(z * r). */
    static INDArray[] composition(INDArray q, INDArray k, INDArray v, INDArray r, double alpha) {
        long T = q.size(1), group = q.size(2) / k.size(2);
        Graph g = Graph.recording();
        Tensor qt = g.leaf(q.castTo(DataType.DOUBLE)),
                kt = g.leaf(k.castTo(DataType.DOUBLE)),
                vt = g.leaf(v.castTo(DataType.DOUBLE));
        double[][] allowed = new double[(int) T][(int) T];
        for (int t = 0; t < T; t++) for (int s = 0; s <= t; s++) allowed[t][s] = 1;
        INDArray mask = Transforms.log(Nd4j.createFromArray(allowed), false).reshape(1, 1, T, T);
        Tensor kAll = kt.repeatInterleave(2, (int) group), vAll = vt.repeatInterleave(2, (int) group);
        Tensor z = TransformerKernels.attend(
                TransformerKernels.attentionScores(qt, kAll, alpha, mask).softmaxLast(), vAll);
        g.backward(z.mul(g.constant(r.castTo(DataType.DOUBLE))).sum());
        return new INDArray[] {
            z.data().dup(), qt.grad().dup(), kt.grad().dup(), vt.grad().dup()
        };
    }

    static INDArray[] fused(INDArray q, INDArray k, INDArray v, INDArray r, double alpha) {
        Graph g = Graph.recording();
        Tensor qt = g.leaf(q), kt = g.leaf(k), vt = g.leaf(v);
        Tensor z = TransformerKernels.causalAttention(qt, kt, vt, alpha);
        g.backward(z.mul(g.constant(r)).sum());
        return new INDArray[] {
            z.data().dup(), qt.grad().dup(), kt.grad().dup(), vt.grad().dup()
        };
    }

    static void compare(int B, int T, int H, int K, int d) {
        Nd4j.getRandom().setSeed(B * 1000 + T);
        INDArray q = Nd4j.randn(DataType.FLOAT, B, T, H, d).muli(2),
                k = Nd4j.randn(DataType.FLOAT, B, T, K, d),
                v = Nd4j.randn(DataType.FLOAT, B, T, K, d),
                r = Nd4j.randn(DataType.FLOAT, B, T, H, d);
        double alpha = 1 / Math.sqrt(d);
        INDArray[] want = composition(q, k, v, r, alpha), got = fused(q, k, v, r, alpha);
        String[] names = {"z", "dq", "dk", "dv"};
        String shape = "B " + B + ", T " + T + ", H " + H + ", K " + K + ", d " + d;
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(want[i].shape(), got[i].shape(), names[i]);
            double scale = want[i].amaxNumber().doubleValue(),
                    err =
                            got[i].castTo(DataType.DOUBLE)
                                    .sub(want[i])
                                    .amaxNumber()
                                    .doubleValue();
            assertTrue(
                    err <= 2e-6 * scale * Math.sqrt(T),
                    names[i] + " (" + shape + "): max |diff| " + err + " of " + scale);
        }
    }

    @Test
    void equalsTheCompositionForwardAndBackward() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        compare(2, 64, 4, 4, 32); // whole tiles
        compare(3, 37, 2, 2, 20); // edges: rows and columns that do not fill a tile
        compare(2, 29, 6, 2, 16); // grouped-query attention: three query heads per key/value head
        compare(1, 1, 1, 1, 3); // one position attends only to itself
        compare(2, 130, 2, 1, 64);
    }

    @Test
    void mismatchedShapesAreRefusedByName() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        Graph g = Graph.inference();
        Tensor q = g.constant(Nd4j.zeros(DataType.FLOAT, 1, 4, 3, 8)),
                k = g.constant(Nd4j.zeros(DataType.FLOAT, 1, 4, 2, 8));
        String m = org.junit.jupiter.api.Assertions.assertThrows(
                        dev.loupe.engine.LoupeException.class, () -> TransformerKernels.causalAttention(q, k, k, 1))
                .getMessage();
        assertTrue(m.contains("H a multiple of K") && m.contains("[1, 4, 3, 8]"), m);
    }

    @Test
    void rerunsToTheSameBits() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        Nd4j.getRandom().setSeed(7);
        INDArray q = Nd4j.randn(DataType.FLOAT, 4, 50, 2, 24),
                k = Nd4j.randn(DataType.FLOAT, 4, 50, 2, 24),
                v = Nd4j.randn(DataType.FLOAT, 4, 50, 2, 24),
                r = Nd4j.randn(DataType.FLOAT, 4, 50, 2, 24);
        INDArray[] a = fused(q, k, v, r, 0.3), b = fused(q, k, v, r, 0.3);
        for (int i = 0; i < 4; i++) assertEquals(a[i], b[i]);
    }

    @Test
    void geluEqualsTheComposition() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        float[] xs = new float[2403], rs = new float[2403]; // odd length: the scalar tail runs too
        for (int i = 0; i < xs.length; i++) {
            xs[i] = -12 + 24f * i / (xs.length - 1);
            rs[i] = 1 + (float) i / xs.length;
        }
        INDArray x = Nd4j.createFromArray(xs).reshape(3, 801),
                r = Nd4j.createFromArray(rs).reshape(3, 801);
        INDArray[] want = gelu(x.castTo(DataType.DOUBLE), r.castTo(DataType.DOUBLE)), got = gelu(x, r);
        for (int i = 0; i < 2; i++) {
            double err =
                    got[i].castTo(DataType.DOUBLE).sub(want[i]).amaxNumber().doubleValue();
            // float32 rounding: of values up to 12, and of gradients up to ~2.3 whose two terms
            // (s and x s (1 - s) u') cancel for x near -2 (a few ulp of the terms)
            assertTrue(err <= 5e-6, (i == 0 ? "gelu" : "gelu'") + ": max |diff| " + err);
        }
        assertEquals(0, got[0].getDouble(0), 0.0, "gelu(-12) underflows to 0");
    }

    /** gelu_new(x) and the gradient of sum(gelu_new(x) * r): the kernel in float32, ND4J in float64. */
    static INDArray[] gelu(INDArray x, INDArray r) {
        Graph g = Graph.recording();
        Tensor xt = g.leaf(x);
        Tensor y = xt.geluNew();
        g.backward(y.mul(g.constant(r)).sum());
        return new INDArray[] {y.data().dup(), xt.grad().dup()};
    }

    @Test
    void layerNormEqualsTheComposition() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        for (long n : new long[] {128, 13}) { // whole vectors, and a scalar tail
            Nd4j.getRandom().setSeed(n);
            INDArray x = Nd4j.randn(DataType.FLOAT, 3, 7, n).muli(3).addi(1),
                    w = Nd4j.randn(DataType.FLOAT, n),
                    b = Nd4j.randn(DataType.FLOAT, n),
                    r = Nd4j.randn(DataType.FLOAT, 3, 7, n);
            INDArray[] want = layerNorm(x, w, b, r, false), got = layerNorm(x, w, b, r, true);
            String[] names = {"y", "dx", "dw", "db"};
            for (int i = 0; i < 4; i++) {
                double
                        err =
                                got[i].castTo(DataType.DOUBLE)
                                        .sub(want[i])
                                        .amaxNumber()
                                        .doubleValue(),
                        scale = want[i].amaxNumber().doubleValue();
                assertTrue(err <= 2e-6 * scale, names[i] + " (n " + n + "): max |diff| " + err + " of " + scale);
            }
            INDArray[] noBias = layerNorm(x, w, null, r, true);
            assertEquals(got[0].sub(b.reshape(1, 1, n)), noBias[0], "without a bias: y - b");
        }
    }

    /** LayerNorm(x) w + b and the gradients of sum(y * r): fused in float32, or the four ops in float64. */
    static INDArray[] layerNorm(INDArray x, INDArray w, INDArray b, INDArray r, boolean fused) {
        DataType t = fused ? DataType.FLOAT : DataType.DOUBLE;
        Graph g = Graph.recording();
        Tensor xt = g.leaf(x.castTo(t)), wt = g.leaf(w.castTo(t)), bt = b == null ? null : g.leaf(b.castTo(t));
        Tensor y;
        if (fused) y = TransformerKernels.layerNorm(xt, wt, bt, 1e-5);
        else {
            Tensor c = TransformerKernels.centerLast(xt);
            y = TransformerKernels.affineLast(
                    TransformerKernels.normalizeLast(c, TransformerKernels.rmsLast(c, 1e-5)), wt, bt);
        }
        g.backward(y.mul(g.constant(r.castTo(t))).sum());
        return new INDArray[] {
            y.data().dup(),
            xt.grad().dup(),
            wt.grad().dup(),
            bt == null ? null : bt.grad().dup()
        };
    }
}
