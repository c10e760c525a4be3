package dev.loupe.engine.autograd;

import static dev.loupe.engine.autograd.TransformerKernels.affineLast;
import static dev.loupe.engine.autograd.TransformerKernels.attend;
import static dev.loupe.engine.autograd.TransformerKernels.attentionScores;
import static dev.loupe.engine.autograd.TransformerKernels.centerLast;
import static dev.loupe.engine.autograd.TransformerKernels.crossEntropyLast;
import static dev.loupe.engine.autograd.TransformerKernels.normalizeLast;
import static dev.loupe.engine.autograd.TransformerKernels.rmsLast;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Each op's backward against central finite differences, in float64. */
class TensorOpsTest {

    static void check(String what, INDArray x0, Function<Tensor, Tensor> f) {
        Graph g = Graph.recording();
        Tensor x = g.leaf(x0);
        Tensor y = f.apply(x);
        Nd4j.getRandom().setSeed(3);
        INDArray r = Nd4j.randn(DataType.DOUBLE, y.shape());
        g.backward(y.mul(g.constant(r)).sum());
        INDArray grad = x.grad();
        for (long i = 0; i < x0.length(); i++) {
            double orig = x0.getDouble(i);
            x0.putScalar(i, orig + 1e-6);
            double plus = f.apply(Graph.inference().constant(x0))
                    .data()
                    .mul(r)
                    .sumNumber()
                    .doubleValue();
            x0.putScalar(i, orig - 1e-6);
            double minus = f.apply(Graph.inference().constant(x0))
                    .data()
                    .mul(r)
                    .sumNumber()
                    .doubleValue();
            x0.putScalar(i, orig);
            double fd = (plus - minus) / 2e-6;
            assertEquals(fd, grad == null ? 0 : grad.getDouble(i), 1e-6 + 1e-6 * Math.abs(fd), what + " element " + i);
        }
    }

    static INDArray rand(long... shape) {
        return Nd4j.randn(DataType.DOUBLE, shape);
    }

    @Test
    void elementwiseAndReductions() {
        Nd4j.getRandom().setSeed(1);
        INDArray other = rand(1, 4);
        check("add bcast", rand(3, 4), x -> x.add(x.graph().constant(other)));
        check("mul bcast", rand(3, 4), x -> x.mul(x.graph().constant(other)));
        check("div", rand(3, 4), x -> x.div(x.square().add(1.0)));
        check("sub self", rand(3, 4), x -> x.sub(x.meanLast()));
        check("centerLast", rand(2, 3, 4), x -> centerLast(x).square());
        INDArray w = rand(4), b = rand(4), x0 = rand(2, 3, 4);
        check("rmsLast", rand(2, 3, 4), x -> rmsLast(x, 0.1));
        check(
                "normalizeLast x, affine",
                rand(2, 3, 4),
                x -> affineLast(
                        normalizeLast(x, rmsLast(x, 1e-3)),
                        x.graph().constant(w),
                        x.graph().constant(b)));
        check(
                "normalizeLast scale",
                rand(2, 3, 1),
                s -> affineLast(
                        normalizeLast(s.graph().constant(x0), s.square().add(0.5)),
                        s.graph().constant(w),
                        null));
        check(
                "affineLast w",
                rand(4),
                v -> affineLast(
                        normalizeLast(v.graph().constant(x0), rmsLast(v.graph().constant(x0), 0)),
                        v,
                        v.graph().constant(b)));
        check(
                "affineLast b",
                rand(4),
                v -> affineLast(
                        normalizeLast(v.graph().constant(x0), rmsLast(v.graph().constant(x0), 0)),
                        v.graph().constant(w),
                        v));
        check("normalizeLast no affine", rand(2, 3, 4), x -> normalizeLast(x, rmsLast(x, 1e-3)));
        for (long[] shape : new long[][] {{1, 1, 4}, {2, 1, 4}, {1, 4}}) { // size-1 dimensions: ND4J strides them oddly
            Graph gi = Graph.inference();
            Tensor x = gi.constant(rand(shape)), centred = centerLast(x), scale = rmsLast(centred, 1e-3);
            INDArray fused = affineLast(normalizeLast(centred, scale), gi.constant(w), gi.constant(b))
                    .data();
            INDArray composed = x.sub(x.meanLast())
                    .div(scale)
                    .mul(gi.constant(w))
                    .add(gi.constant(b))
                    .data();
            assertEquals(
                    0,
                    fused.sub(composed).amaxNumber().doubleValue(),
                    1e-12,
                    "LayerNorm of " + java.util.Arrays.toString(shape));
            check(
                    "normalizeLast " + java.util.Arrays.toString(shape),
                    rand(shape),
                    v -> normalizeLast(centerLast(v), rmsLast(centerLast(v), 1e-3)));
        }
        check("sqrt", rand(3, 4), x -> x.square().add(0.5).sqrt());
        check("tanh", rand(3, 4), Tensor::tanh);
        check("geluNew", rand(3, 4), Tensor::geluNew);
        check("gelu", rand(3, 4), Tensor::gelu);
        check("silu", rand(3, 4), Tensor::silu);
        check("relu", rand(3, 4), Tensor::relu);
        check("softmax", rand(2, 3, 4), Tensor::softmaxLast);
        check("logSoftmax", rand(2, 3, 4), Tensor::logSoftmaxLast);
        check("sum dim", rand(2, 3, 4), x -> x.sum(1));
        check("sumLast", rand(2, 3, 4), Tensor::sumLast);
        check("pick", rand(2, 3, 4), x -> x.pickLast(new long[] {0, 3, 2, 1, 1, 0}));
        long[] targets = {0, 3, 2, 1, 1, 0};
        double[] weights = {1, 0.5, 0, 2, 1, -1};
        check("crossEntropy", rand(2, 3, 4), x -> crossEntropyLast(x, targets, weights));
        INDArray logits = rand(2, 3, 4);
        Graph g = Graph.inference();
        INDArray fused = crossEntropyLast(g.constant(logits), targets, weights).data();
        INDArray composed = g.constant(logits)
                .logSoftmaxLast()
                .pickLast(targets)
                .mul(g.constant(Nd4j.createFromArray(weights).reshape(2, 3).neg()))
                .data();
        assertEquals(0, fused.sub(composed).norm1Number().doubleValue(), 1e-12, "fused = -logSoftmax picked, weighted");
        // float32, a target 200 nats below the rest: p(target) underflows, the loss must not
        INDArray far = Nd4j.createFromArray(new float[] {0, 0, -200, 0, 5, 1}).reshape(2, 3);
        INDArray ce = crossEntropyLast(g.constant(far), new long[] {2, 1}, new double[] {1, 1})
                .data();
        assertEquals(200 + Math.log(2), ce.getDouble(0), 1e-4, "loss of an underflowing probability");
        assertEquals(Math.log(Math.exp(-5) + 1 + Math.exp(-4)), ce.getDouble(1), 1e-6, "the other row");
    }

    @Test
    void shapesAndProducts() {
        Nd4j.getRandom().setSeed(2);
        INDArray w = rand(4, 5),
                b = rand(5),
                m = rand(2, 3, 5, 4),
                x34 = rand(3, 4),
                a65 = rand(2, 3, 6, 5),
                a64 = rand(2, 3, 6, 4);
        check(
                "linear x",
                rand(2, 3, 4),
                x -> x.linear(x.graph().constant(w), x.graph().constant(b)));
        check("linear w", rand(4, 5), x -> x.graph().constant(x34).linear(x, null));
        check("linear transposed w", rand(5, 4), x -> x.graph().constant(x34).linear(x.transpose(), null));
        check("bmm", rand(2, 3, 6, 5), x -> x.bmm(x.graph().constant(m), false, 0.5));
        check("bmm transposed", rand(2, 3, 6, 4), x -> x.bmm(x.graph().constant(m), true, 0.5));
        check("bmm other", rand(2, 3, 5, 4), x -> x.graph().constant(a65).bmm(x, false, 2));
        check("bmm other transposed", rand(2, 3, 5, 4), x -> x.graph()
                .constant(a64)
                .bmm(x, true, 2));
        INDArray q = rand(2, 3, 2, 4), k = rand(2, 5, 2, 4), pattern = rand(2, 2, 3, 5), mask = rand(1, 1, 3, 5);
        check(
                "attentionScores q",
                rand(2, 3, 2, 4),
                x -> attentionScores(x, x.graph().constant(k), 0.5, mask));
        check(
                "attentionScores k",
                rand(2, 5, 2, 4),
                x -> attentionScores(x.graph().constant(q), x, 0.5, null));
        check("attend pattern", rand(2, 2, 3, 5), x -> attend(x, x.graph().constant(k)));
        check("attend v", rand(2, 5, 2, 4), x -> attend(x.graph().constant(pattern), x));
        Graph ga = Graph.inference();
        Tensor qt = ga.constant(q), kt = ga.constant(k), pt = ga.constant(pattern);
        INDArray viaBmm = qt.permute(0, 2, 1, 3)
                .bmm(kt.permute(0, 2, 1, 3), true, 0.5)
                .add(ga.constant(mask))
                .data();
        assertEquals(
                0,
                attentionScores(qt, kt, 0.5, mask)
                        .data()
                        .sub(viaBmm)
                        .amaxNumber()
                        .doubleValue(),
                1e-12,
                "scores = bmm of head-major copies");
        INDArray zViaBmm =
                pt.bmm(kt.permute(0, 2, 1, 3), false, 1).permute(0, 2, 1, 3).data();
        assertEquals(
                0,
                attend(pt, kt).data().sub(zViaBmm).amaxNumber().doubleValue(),
                1e-12,
                "attend = bmm, back to token-major");
        check("permute", rand(2, 3, 4), x -> x.permute(2, 0, 1).square());
        check("reshape", rand(2, 3, 4), x -> x.reshape(6, 4).square());
        check("slice", rand(2, 3, 4), x -> x.slice(1, 1, 3).square());
        check(
                "concat",
                rand(2, 3, 4),
                x -> Tensor.concatLast(x.sliceLast(2, 4), x.sliceLast(0, 2).mul(-1)));
        check("repeat", rand(2, 2, 3), x -> x.repeatInterleave(1, 3).square());
        check("gather", rand(5, 3), x -> x.gatherRows(new long[] {4, 0, 4, 2}));
        check("gather positions", rand(5, 3), x -> x.gatherRows(new long[] {0, 1, 2, 0, 1, 2})
                .square());
        check("gather almost positions", rand(5, 3), x -> x.gatherRows(new long[] {0, 1, 2, 0, 1, 3})
                .square());
        check("gather one period", rand(5, 3), x -> x.gatherRows(new long[] {0, 1, 2, 3})
                .square());
        check("gather+transpose", rand(5, 3), x -> x.gatherRows(new long[] {4, 0, 4, 2})
                .linear(x.transpose(), null));
    }
}
