package dev.loupe.engine.autograd;

import static dev.loupe.engine.autograd.NativeKernels.readable;
import static dev.loupe.engine.autograd.Rows.columnSums;
import static dev.loupe.engine.autograd.Rows.flatIndices;
import static dev.loupe.engine.autograd.Rows.gatherFlat;
import static dev.loupe.engine.autograd.Rows.rowDot;
import static dev.loupe.engine.autograd.Rows.rows;
import static dev.loupe.engine.autograd.Rows.scatterAddRows;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The transformer's fused kernels: ops on {@link Tensor}s that do in one forward (and one backward)
 * what a chain of the general ops would do in several passes — the pieces of LayerNorm and RMSNorm,
 * attention scores and outputs read through head-major views, and the cross-entropy loss. Each is
 * checked against the composition it replaces and by finite differences ({@code TensorOpsTest}).
 */
public final class TransformerKernels {
    private TransformerKernels() {}

    // ---------------------------------------------------------------- norms

    /**
     * sqrt(mean(x^2) + eps) over the last dimension, keeping it as size 1: the scale of LayerNorm
     * (on centred input) and RMSNorm, in one reduction pass.
     */
    public static Tensor rmsLast(Tensor x, double eps) {
        int last = x.rank() - 1;
        long n = x.size(last);
        INDArray out = x.data().norm2(true, last);
        x.graph().own(out);
        out.muli(out).divi(n).addi(eps);
        Transforms.sqrt(out, false);
        // d scale / dx = x / (n * scale)
        return Tensor.result(
                out,
                g -> {
                    INDArray x2 = rows(x.data(), n),
                            dx = Nd4j.createUninitialized(x.data().dataType(), x2.shape());
                    Nd4j.exec(new MulOp(
                            x2, rows(g, 1).div(out.reshape('c', g.length(), 1)).divi(n), dx));
                    x.sendFresh(dx.reshape('c', x.shape()));
                },
                x);
    }

    /**
     * x - mean(x) over the last dimension: LayerNorm's centring as one op, whose backward is
     * g - mean(g). As {@code sub(meanLast())} it took five passes forward and back plus a gradient sum.
     */
    public static Tensor centerLast(Tensor x) {
        long n = x.size(x.rank() - 1);
        INDArray x2 = rows(x.data(), n); // [rows, n]
        INDArray out = x.alloc(x2.shape());
        INDArray mean = Nd4j.valueArrayOf(new long[] {n}, 1.0 / n, x.data().dataType()); // [n]
        Nd4j.exec(new SubOp(x2, rowDot(x2, mean), out));
        return Tensor.result(
                out.reshape('c', x.shape()),
                g -> {
                    INDArray g2 = rows(g, n), dx = Nd4j.createUninitialized(g.dataType(), g2.shape());
                    Nd4j.exec(new SubOp(g2, rowDot(g2, mean), dx));
                    x.sendFresh(dx.reshape('c', x.shape()));
                },
                x);
    }

    /**
     * x / scale over the last dimension, with scale [..., 1] (a norm's scale): the normalized value,
     * which TransformerLens hooks before the affine part ({@link #affineLast}). Backward, with
     * x̂ = x / scale: dx = g / scale, dscale = -sum(g * x̂) / scale.
     */
    public static Tensor normalizeLast(Tensor x, Tensor scale) {
        long n = x.size(x.rank() - 1);
        INDArray x2 = rows(x.data(), n), s = rows(scale.data(), 1); // [rows, n], [rows, 1]
        INDArray xHat = x.alloc(x2.shape()); // also kept for the backward
        Nd4j.exec(new DivOp(x2, s, xHat));
        return Tensor.result(
                xHat.reshape('c', x.shape()),
                g -> {
                    INDArray g2 = rows(g, n);
                    INDArray work = null;
                    if (scale.requiresGrad()) {
                        // sum(g * x̂) over each row as a GEMV on the product with ones, instead of a
                        // row-wise dot (22 vs 186 µs for [2048, 128])
                        work = Nd4j.createUninitialized(g.dataType(), g2.shape());
                        Nd4j.exec(new MulOp(g2, xHat, work));
                        INDArray dot = rowDot(work, Nd4j.ones(g.dataType(), n)); // [rows, 1]
                        scale.send(dot.divi(s).negi().reshape('c', scale.shape()));
                    }
                    if (x.requiresGrad()) {
                        INDArray dx = work != null ? work : Nd4j.createUninitialized(g.dataType(), g2.shape());
                        Nd4j.exec(new DivOp(g2, s, dx));
                        x.sendFresh(dx.reshape('c', x.shape()));
                    }
                },
                x,
                scale);
    }

    /**
     * x̂ * w + b over the last dimension, with w and b [n] (b may be null): the affine part of
     * LayerNorm and RMSNorm. Backward: dx̂ = g * w, dw = column sums of g * x̂, db = column sums of g.
     */
    public static Tensor affineLast(Tensor xHat, Tensor w, Tensor b) {
        long n = xHat.size(xHat.rank() - 1);
        INDArray x2 = rows(xHat.data(), n); // [rows, n]
        INDArray out = xHat.alloc(x2.shape());
        Nd4j.exec(new MulOp(x2, rows(w.data(), n), out));
        if (b != null) Nd4j.exec(new AddOp(out, rows(b.data(), n), out));
        return Tensor.result(
                out.reshape('c', xHat.shape()),
                g -> {
                    INDArray g2 = rows(g, n);
                    if (w.requiresGrad()) w.send(columnSums(g2.mul(x2)).reshape(w.shape()));
                    if (b != null && b.requiresGrad()) b.send(columnSums(g2).reshape(b.shape()));
                    if (xHat.requiresGrad()) {
                        INDArray dx = Nd4j.createUninitialized(g.dataType(), g2.shape());
                        Nd4j.exec(new MulOp(g2, rows(w.data(), n), dx));
                        xHat.sendFresh(dx.reshape('c', xHat.shape()));
                    }
                },
                xHat,
                w,
                b);
    }

    /**
     * LayerNorm over the last dimension as one fused op (when {@link NativeKernels#available()}):
     * (x - mean) / sqrt(var + eps) * w + b, with w and b [n] (b may be null). The same function as
     * {@link #centerLast}, {@link #rmsLast}, {@link #normalizeLast} and {@link #affineLast} in a row,
     * without their hook points (hook_scale, hook_normalized): the model uses it only where nothing
     * observes them.
     */
    public static Tensor layerNorm(Tensor x, Tensor w, Tensor b, double eps) {
        long n = x.size(x.rank() - 1);
        INDArray x2 = readable(rows(x.data(), n)); // [rows, n]
        INDArray wc = readable(w.data()), bc = b == null ? null : readable(b.data()); // [n]
        INDArray y = x.alloc(x2.shape()), xHat = x.alloc(x2.shape()), rScale = x.alloc(x2.size(0));
        NativeKernels.layerNormForward(x2, wc, bc, y, xHat, rScale, (float) eps);
        return Tensor.result(
                y.reshape('c', x.shape()),
                g -> {
                    INDArray dx = x.requiresGrad() ? Nd4j.createUninitialized(DataType.FLOAT, x2.shape()) : null,
                            dw = w.requiresGrad() ? Nd4j.createUninitialized(DataType.FLOAT, n) : null,
                            db = b != null && b.requiresGrad() ? Nd4j.createUninitialized(DataType.FLOAT, n) : null;
                    NativeKernels.layerNormBackward(readable(rows(g, n)), wc, xHat, rScale, dx, dw, db);
                    if (dw != null) w.send(dw.reshape(w.shape()));
                    if (db != null) b.send(db.reshape(b.shape()));
                    if (dx != null) x.sendFresh(dx.reshape('c', x.shape()));
                },
                x,
                w,
                b);
    }

    // ---------------------------------------------------------------- attention

    /*
     * Queries, keys and values stay in the token-major [batch, pos, head, d_head] layout of their
     * hook points. ND4J's batched matmul reads and writes head-major [batch, head, pos, d_head]
     * permuted views of them at full speed, so these two ops make no transposed copies, forward or
     * backward (permuting four arrays per layer and back cost ~8% of a training step).
     */

    private static final int[] HEADS_FIRST = {0, 2, 1, 3}; // [B, T, H, d] <-> [B, H, T, d]

    /**
     * Attention scores for every head: queries q [B, T, H, d] dot keys k [B, S, H, d] over d, times
     * alpha, plus {@code addend} (the mask, broadcast; may be null): [B, H, T, S].
     */
    public static Tensor attentionScores(Tensor q, Tensor k, double alpha, INDArray addend) {
        INDArray qh = q.data().permute(HEADS_FIRST), kh = k.data().permute(HEADS_FIRST); // [B, H, T, d], [B, H, S, d]
        INDArray out = q.alloc(qh.size(0), qh.size(1), qh.size(2), kh.size(2)); // [B, H, T, S]
        Nd4j.exec(new Mmul(
                qh, kh, out, alpha, 0, MMulTranspose.builder().transposeB(true).build()));
        if (addend != null) Nd4j.exec(new AddOp(out, addend, out));
        return Tensor.result(
                out,
                g -> {
                    if (q.requiresGrad()) { // dq = alpha G k
                        INDArray dq = Nd4j.createUninitialized(q.data().dataType(), q.shape());
                        Nd4j.exec(new Mmul(
                                g,
                                kh,
                                dq.permute(HEADS_FIRST),
                                alpha,
                                0,
                                MMulTranspose.builder().build()));
                        q.sendFresh(dq);
                    }
                    if (k.requiresGrad()) { // dk = alpha G^T q
                        INDArray dk = Nd4j.createUninitialized(k.data().dataType(), k.shape());
                        Nd4j.exec(new Mmul(
                                g,
                                qh,
                                dk.permute(HEADS_FIRST),
                                alpha,
                                0,
                                MMulTranspose.builder().transposeA(true).build()));
                        k.sendFresh(dk);
                    }
                },
                q,
                k);
    }

    /** The attention output of every head: the pattern [B, H, T, S] times v [B, S, H, d], as z [B, T, H, d]. */
    public static Tensor attend(Tensor pattern, Tensor v) {
        INDArray p = pattern.data(), vh = v.data().permute(HEADS_FIRST); // [B, H, S, d]
        INDArray z = pattern.alloc(p.size(0), p.size(2), p.size(1), vh.size(3)); // [B, T, H, d]
        Nd4j.exec(
                new Mmul(p, vh, z.permute(HEADS_FIRST), MMulTranspose.builder().build()));
        return Tensor.result(
                z,
                g -> {
                    INDArray gh = g.permute(HEADS_FIRST); // [B, H, T, d]
                    if (pattern.requiresGrad()) { // dpattern = G v^T
                        INDArray dp = Nd4j.createUninitialized(p.dataType(), pattern.shape());
                        Nd4j.exec(new Mmul(
                                gh,
                                vh,
                                dp,
                                MMulTranspose.builder().transposeB(true).build()));
                        pattern.sendFresh(dp);
                    }
                    if (v.requiresGrad()) { // dv = pattern^T G
                        INDArray dv = Nd4j.createUninitialized(v.data().dataType(), v.shape());
                        Nd4j.exec(new Mmul(
                                p,
                                gh,
                                dv.permute(HEADS_FIRST),
                                MMulTranspose.builder().transposeA(true).build()));
                        v.sendFresh(dv);
                    }
                },
                pattern,
                v);
    }

    /**
     * Causal self-attention as one fused op ({@link NativeKernels}, when {@link
     * NativeKernels#available()}): z [B, T, H, d] = softmax(alpha q k^T + causal mask) v for q
     * [B, T, H, d] and k, v [B, T, K, d] (H a multiple of K: grouped-query attention reads each
     * key/value head for its group). The same function as {@link #attentionScores}, softmax and {@link
     * #attend} with the causal mask; the [B, H, T, T] scores and pattern are never hook points here, so
     * the model uses it only where nothing observes them.
     */
    public static Tensor causalAttention(Tensor q, Tensor k, Tensor v, double alpha) {
        if (!NativeKernels.available())
            throw new LoupeException(
                    "causalAttention: the native kernels are not loaded: " + NativeKernels.unavailableBecause());
        long[] qs = q.shape(), ks = k.shape();
        boolean fits = qs.length == 4
                && ks.length == 4
                && Arrays.equals(ks, v.shape())
                && ks[0] == qs[0]
                && ks[1] == qs[1]
                && ks[3] == qs[3]
                && ks[2] > 0
                && qs[2] % ks[2] == 0;
        if (!fits)
            throw new LoupeException(
                    "causalAttention: q must be [B, T, H, d] and k, v [B, T, K, d] with H a multiple of K; got q "
                            + Arrays.toString(qs) + ", k " + Arrays.toString(ks) + ", v " + Arrays.toString(v.shape()));
        INDArray qc = readable(q.data()), kc = readable(k.data()), vc = readable(v.data());
        long B = q.size(0), T = q.size(1), H = q.size(2), d = q.size(3);
        INDArray z = q.alloc(B, T, H, d), p = q.alloc(B, H, T, T); // p: each head's pattern, for the backward
        NativeKernels.attentionForward(qc, kc, vc, z, p, (float) alpha);
        return Tensor.result(
                z,
                g -> {
                    INDArray dq = Nd4j.createUninitialized(DataType.FLOAT, qc.shape()),
                            dk = Nd4j.createUninitialized(DataType.FLOAT, kc.shape()),
                            dv = Nd4j.createUninitialized(DataType.FLOAT, vc.shape());
                    NativeKernels.attentionBackward(qc, kc, vc, p, readable(g), dq, dk, dv, (float) alpha);
                    if (q.requiresGrad()) q.sendFresh(dq);
                    if (k.requiresGrad()) k.sendFresh(dk);
                    if (v.requiresGrad()) v.sendFresh(dv);
                },
                q,
                k,
                v);
    }

    // ---------------------------------------------------------------- loss

    /**
     * Cross-entropy of [..., n] logits against one target index per leading position, times a weight
     * per position: {@code weight[r] * (logsumexp(x[r]) - x[r, target[r]])}, shape [...]. The same
     * as {@code -logits.logSoftmaxLast().pickLast(target) * weight}, fused: the forward is one softmax
     * kernel and the loss -log p(target) (log-sum-exp when p underflows), the backward is
     * {@code g * weight * (softmax - onehot)} from the forward's softmax, about a third of the passes
     * over [rows, n] of the composed ops.
     */
    public static Tensor crossEntropyLast(Tensor logits, long[] target, double[] weight) {
        INDArray data = logits.data();
        long n = logits.size(logits.rank() - 1);
        long rowCount = data.length() / n;
        if (target.length != rowCount || weight.length != rowCount)
            throw new IllegalArgumentException("crossEntropyLast: " + target.length + " targets and " + weight.length
                    + " weights for " + rowCount + " rows");
        int[] at = flatIndices("crossEntropyLast", target, n);
        INDArray x = rows(data, n); // [rows, n]
        INDArray softmax =
                Nd4j.createUninitialized(x.dataType(), x.shape()); // one ND4J kernel: ~half the time of max, exp, sum
        Nd4j.exec(new SoftMax(x, softmax, 1));
        INDArray w = Nd4j.createFromArray(weight).castTo(data.dataType()).reshape('c', rowCount, 1);
        INDArray picked = gatherFlat(softmax, at); // [rows, 1], p(target)
        INDArray loss;
        if (picked.minNumber().doubleValue() > 1e-30) {
            loss = Transforms.log(picked, false).negi().muli(w);
        } else {
            // A probability near float underflow has lost its digits: log-sum-exp - x[target] is exact.
            INDArray max = x.max(true, 1), shifted = Nd4j.createUninitialized(x.dataType(), x.shape());
            Nd4j.exec(new SubOp(x, max, shifted));
            INDArray sumExp = Transforms.exp(shifted, false).sum(true, 1);
            loss = Transforms.log(sumExp, false)
                    .addi(max)
                    .subi(gatherFlat(x, at))
                    .muli(w);
        }
        long[] outShape = Arrays.copyOf(logits.shape(), logits.rank() - 1);
        return Tensor.result(
                loss.reshape('c', outShape),
                g -> {
                    INDArray coef = rows(g, 1).mul(w); // [rows, 1]
                    INDArray d = softmax; // softmax * coef, in place
                    Nd4j.exec(new MulOp(softmax, coef, d));
                    scatterAddRows(
                            d.reshape('c', d.length(), 1),
                            Nd4j.createFromArray(at),
                            coef.neg()); // - onehot * coef (a view of d)
                    logits.send(d.reshape('c', logits.shape()));
                },
                logits);
    }
}
