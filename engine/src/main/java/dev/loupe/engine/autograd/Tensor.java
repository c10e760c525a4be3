package dev.loupe.engine.autograd;

import java.util.Arrays;
import java.util.function.Consumer;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.api.ops.impl.reduce3.Dot;
import org.nd4j.linalg.api.ops.impl.scatter.ScatterUpdate;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A value in a {@link Graph}: an ND4J array plus, when the graph records, how to send a gradient
 * back to the values it was computed from. The model is written once in these ops; whether a pass
 * is differentiable is decided by the graph, so forward and backward can never drift apart.
 * <p>
 * Every op allocates its result through the graph (so it can be freed early) and never modifies
 * its inputs. Element-wise ops broadcast like numpy; their backward sums the gradient over the
 * broadcast dimensions.
 */
public final class Tensor {
    private final Graph graph;
    private final INDArray data;
    private final boolean requiresGrad;
    private INDArray grad;
    private boolean gradOwned; // grad was made for this tensor alone: later gradients add into it in place
    private Consumer<INDArray> backward;

    Tensor(Graph graph, INDArray data, boolean requiresGrad) {
        this.graph = graph;
        this.data = data;
        this.requiresGrad = requiresGrad;
    }

    public INDArray data() {
        return data;
    }

    /** d(output)/d(this) after {@link Graph#backward}; null when no gradient reached it. */
    public INDArray grad() {
        return grad;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    public Graph graph() {
        return graph;
    }

    public long[] shape() {
        return data.shape();
    }

    public long size(int dim) {
        return data.size(dim);
    }

    public int rank() {
        return data.rank();
    }

    void accumulateGrad(INDArray g) {
        accumulateGrad(g, false);
    }

    /**
     * Adds a gradient arriving from one consumer. Gradients are dense c-ordered arrays (views from
     * transposes would surprise whoever reads them by linear index). An incoming gradient may feed
     * several inputs, so it is never mutated; {@code fresh} says the sender made it for this tensor
     * alone, and then later gradients may add into it in place.
     */
    private void accumulateGrad(INDArray g, boolean fresh) {
        // A reshape of a dense array counts as a view in ND4J but is dense: copying those measured ~8% of a step.
        if (!dense(g)) {
            g = g.dup('c');
            fresh = true;
        }
        if (grad == null) {
            grad = g;
            gradOwned = fresh;
        } else if (gradOwned) {
            grad.addi(g);
        } else if (fresh) {
            grad = g.addi(grad);
            gradOwned = true;
        } else {
            grad = grad.add(g);
            gradOwned = true;
        }
    }

    private static boolean dense(INDArray a) {
        if (a.ordering() != 'c' || a.offset() != 0 || a.length() != a.data().length()) return false;
        // Shape.hasDefaultStridesForShape rejects what ND4J itself creates for size-1 dimensions
        // ([1, 1, 4] gets strides [4, 4, 1]); a size-1 dimension's stride is never used.
        long[] shape = a.shape(), stride = a.stride();
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    void runBackward() {
        if (backward != null) backward.accept(grad);
    }

    /** Replaces this tensor's gradient (used by backward hooks). */
    public void setGrad(INDArray g) {
        grad = g;
        gradOwned = false;
    }

    // ---------------------------------------------------------------- op plumbing

    private static Graph graphOf(Tensor... ts) {
        for (Tensor t : ts) if (t != null) return t.graph;
        throw new IllegalArgumentException("no operand");
    }

    /** Wraps an op result; when recording and any input needs a gradient, puts it on the tape. */
    private static Tensor result(INDArray out, Consumer<INDArray> backward, Tensor... inputs) {
        Graph g = graphOf(inputs);
        boolean needs = false;
        if (g.isRecording()) for (Tensor t : inputs) if (t != null && t.requiresGrad) needs = true;
        Tensor r = new Tensor(g, out, needs);
        if (needs) {
            r.backward = backward;
            g.record(r);
        }
        return r;
    }

    private INDArray alloc(long... shape) {
        return graph.alloc(data.dataType(), shape);
    }

    private void send(INDArray g) {
        if (requiresGrad) accumulateGrad(g, false);
    }

    /** {@link #send} for a gradient array the caller made for this tensor alone. */
    private void sendFresh(INDArray g) {
        if (requiresGrad) accumulateGrad(g, true);
    }

    /** Sums a gradient of a broadcast result back to this tensor's shape. */
    private INDArray unbroadcast(INDArray g) {
        long[] target = data.shape();
        if (Arrays.equals(g.shape(), target)) return g;
        int lead = g.rank() - target.length;
        INDArray r = g;
        if (lead > 0) {
            int[] dims = new int[lead];
            for (int i = 0; i < lead; i++) dims[i] = i;
            r = r.sum(dims);
        }
        int[] ones = java.util.stream.IntStream.range(0, target.length)
                .filter(i -> target[i] == 1 && g.size(i + lead) != 1)
                .toArray();
        if (ones.length > 0) r = r.sum(true, ones);
        return r.reshape(target);
    }

    private static long[] broadcastShape(long[] a, long[] b) {
        int n = Math.max(a.length, b.length);
        long[] s = new long[n];
        for (int i = 0; i < n; i++) {
            long x = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
            long y = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
            if (x != y && x != 1 && y != 1)
                throw new IllegalArgumentException(
                        "shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            s[i] = Math.max(x, y);
        }
        return s;
    }

    // ---------------------------------------------------------------- element-wise

    public Tensor add(Tensor o) {
        INDArray out = alloc(broadcastShape(shape(), o.shape()));
        Nd4j.exec(new AddOp(data, o.data, out));
        return result(
                out,
                g -> {
                    send(unbroadcast(g));
                    o.send(o.unbroadcast(g));
                },
                this,
                o);
    }

    public Tensor sub(Tensor o) {
        INDArray out = alloc(broadcastShape(shape(), o.shape()));
        Nd4j.exec(new SubOp(data, o.data, out));
        return result(
                out,
                g -> {
                    send(unbroadcast(g));
                    o.send(o.unbroadcast(g.neg()));
                },
                this,
                o);
    }

    public Tensor mul(Tensor o) {
        INDArray out = alloc(broadcastShape(shape(), o.shape()));
        Nd4j.exec(new MulOp(data, o.data, out));
        return result(
                out,
                g -> {
                    if (requiresGrad) send(unbroadcast(g.mul(o.data)));
                    if (o.requiresGrad) o.send(o.unbroadcast(g.mul(data)));
                },
                this,
                o);
    }

    public Tensor div(Tensor o) {
        INDArray out = alloc(broadcastShape(shape(), o.shape()));
        Nd4j.exec(new DivOp(data, o.data, out));
        return result(
                out,
                g -> {
                    if (requiresGrad) send(unbroadcast(g.div(o.data)));
                    if (o.requiresGrad)
                        o.send(o.unbroadcast(g.mul(out).div(o.data).negi()));
                },
                this,
                o);
    }

    public Tensor mul(double s) {
        INDArray out = alloc(shape()).assign(data).muli(s);
        return result(out, g -> send(g.mul(s)), this);
    }

    public Tensor add(double s) {
        INDArray out = alloc(shape()).assign(data).addi(s);
        return result(out, this::send, this);
    }

    public Tensor square() {
        INDArray out = alloc(shape()).assign(data).muli(data);
        return result(out, g -> send(g.mul(data).muli(2)), this);
    }

    public Tensor sqrt() {
        INDArray out = alloc(shape()).assign(data);
        Transforms.sqrt(out, false);
        return result(out, g -> send(g.div(out).muli(0.5)), this);
    }

    public Tensor tanh() {
        INDArray out = alloc(shape()).assign(data);
        Transforms.tanh(out, false);
        return result(out, g -> send(g.mul(out.mul(out).rsubi(1))), this);
    }

    /** c * tanh(x / c): the soft-capping of Gemma 2. */
    public Tensor softcap(double c) {
        return mul(1 / c).tanh().mul(c);
    }

    public Tensor relu() {
        INDArray out = alloc(shape()).assign(data);
        Transforms.relu(out, false);
        return result(out, g -> send(g.mul(Transforms.step(data))), this);
    }

    /** x * sigmoid(x) */
    public Tensor silu() {
        INDArray sig = Transforms.sigmoid(data, true);
        INDArray out = alloc(shape()).assign(sig).muli(data);
        return result(
                out,
                g -> {
                    // d/dx x*s(x) = s + x*s*(1-s)
                    INDArray d = sig.rsub(1).muli(data).muli(sig).addi(sig);
                    send(g.mul(d));
                },
                this);
    }

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    /**
     * GELU in GPT-2's tanh form, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), computed
     * as x * sigmoid(2u) = x / (1 + exp(-2u)): ND4J's {@code precise_gelu} is miscomputed, and exp
     * is the fastest transcendental it has (tanh measured ~2x slower).
     */
    public Tensor geluNew() {
        INDArray out = alloc(shape()).assign(data);
        out.muli(data)
                .muli(-2 * SQRT_2_OVER_PI * 0.044715)
                .addi(-2 * SQRT_2_OVER_PI)
                .muli(data); // -2u
        Transforms.exp(out, false);
        out.addi(1).rdivi(data); // x / (1 + exp(-2u)) = x * sigmoid(2u)
        Consumer<INDArray> back = g -> {
            // with s = sigmoid(2u): d/dx = s + x * 2 s (1 - s) du/dx, du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
            INDArray s = data.mul(data)
                    .muli(-2 * SQRT_2_OVER_PI * 0.044715)
                    .addi(-2 * SQRT_2_OVER_PI)
                    .muli(data);
            Transforms.exp(s, false);
            s.addi(1).rdivi(1);
            INDArray du = data.mul(data).muli(3 * 0.044715).addi(1).muli(2 * SQRT_2_OVER_PI);
            INDArray d = s.rsub(1).muli(s).muli(du).muli(data).addi(s);
            send(g.mul(d));
        };
        return result(out, back, this);
    }

    /** Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). */
    public Tensor gelu() {
        INDArray erf = data.div(Math.sqrt(2));
        Nd4j.exec(new org.nd4j.linalg.api.ops.impl.transforms.strict.Erf(erf, erf));
        INDArray out = alloc(shape()).assign(erf).addi(1).muli(data).muli(0.5);
        Consumer<INDArray> back = g -> {
            // d/dx = Phi(x) + x phi(x)
            INDArray pdf = Transforms.exp(data.mul(data).muli(-0.5), false).muli(1 / Math.sqrt(2 * Math.PI));
            INDArray d = pdf.muli(data).addi(erf.add(1).muli(0.5));
            send(g.mul(d));
        };
        Tensor r = result(out, back, this);
        if (!r.requiresGrad && !erf.isAttached()) erf.close();
        return r;
    }

    // ---------------------------------------------------------------- reductions

    public Tensor sumLast() {
        int last = rank() - 1;
        INDArray out = data.sum(true, last);
        return result(out, g -> send(expandLast(g, 1)), this);
    }

    public Tensor meanLast() {
        int last = rank() - 1;
        INDArray out = data.mean(true, last);
        double inv = 1.0 / size(last);
        return result(out, g -> send(expandLast(g, inv)), this);
    }

    /**
     * g [..., 1] repeated along the last dimension to this tensor's shape, times {@code scale}: zeros
     * plus a column broadcast. INDArray.broadcast materialises through a tile op that measured 12% of a
     * training step in LayerNorm's mean alone.
     */
    private INDArray expandLast(INDArray g, double scale) {
        long n = size(rank() - 1);
        INDArray column = rows(g, 1); // [rows, 1]
        if (scale != 1) column = column.mul(scale);
        INDArray out = Nd4j.zeros(data.dataType(), data.length() / n, n); // [rows, n]
        out.addiColumnVector(column);
        return out.reshape('c', shape());
    }

    /**
     * sqrt(mean(x^2) + eps) over the last dimension, keeping it as size 1: the scale of LayerNorm
     * (on centred input) and RMSNorm, in one reduction pass.
     */
    public Tensor rmsLast(double eps) {
        int last = rank() - 1;
        long n = size(last);
        INDArray out = data.norm2(true, last);
        graph.own(out);
        out.muli(out).divi(n).addi(eps);
        Transforms.sqrt(out, false);
        // d scale / dx = x / (n * scale)
        return result(
                out,
                g -> {
                    INDArray x = rows(data, n), dx = Nd4j.createUninitialized(data.dataType(), x.shape());
                    Nd4j.exec(new MulOp(
                            x, rows(g, 1).div(out.reshape('c', g.length(), 1)).divi(n), dx));
                    sendFresh(dx.reshape('c', shape()));
                },
                this);
    }

    /**
     * x - mean(x) over the last dimension: LayerNorm's centring as one op, whose backward is
     * g - mean(g). As {@code sub(meanLast())} it took five passes forward and back plus a gradient sum.
     */
    public Tensor centerLast() {
        long n = size(rank() - 1);
        INDArray x = rows(data, n); // [rows, n]
        INDArray out = alloc(x.shape());
        INDArray mean = Nd4j.valueArrayOf(new long[] {n}, 1.0 / n, data.dataType()); // [n]
        Nd4j.exec(new SubOp(x, rowDot(x, mean), out));
        return result(
                out.reshape('c', shape()),
                g -> {
                    INDArray g2 = rows(g, n), dx = Nd4j.createUninitialized(g.dataType(), g2.shape());
                    Nd4j.exec(new SubOp(g2, rowDot(g2, mean), dx));
                    sendFresh(dx.reshape('c', shape()));
                },
                this);
    }

    /**
     * x / scale * w + b over the last dimension, with scale [..., 1] (a norm's scale) and w, b [n]
     * (either may be null): the normalisation and affine part of LayerNorm and RMSNorm as one op.
     * Backward, with x̂ = x / scale and gx̂ = g * w: dx = gx̂ / scale,
     * dscale = -sum(gx̂ * x̂) / scale, dw = column sums of g * x̂, db = column sums of g.
     */
    public Tensor normalizeLast(Tensor scale, Tensor w, Tensor b) {
        long n = size(rank() - 1);
        INDArray x = rows(data, n), s = rows(scale.data, 1); // [rows, n], [rows, 1]
        INDArray xHat2 = alloc(x.shape()); // x̂, kept for the backward
        Nd4j.exec(new DivOp(x, s, xHat2));
        INDArray out2 = xHat2;
        if (w != null || b != null) {
            out2 = alloc(x.shape());
            if (w != null) Nd4j.exec(new MulOp(xHat2, rows(w.data, n), out2));
            if (b != null) Nd4j.exec(new AddOp(w != null ? out2 : xHat2, rows(b.data, n), out2));
        }
        return result(
                out2.reshape('c', shape()),
                g -> {
                    INDArray g2 = rows(g, n);
                    INDArray gxHat = g2;
                    if (w != null)
                        Nd4j.exec(new MulOp(
                                g2, rows(w.data, n), gxHat = Nd4j.createUninitialized(g.dataType(), g2.shape())));
                    // sum(gx̂ * x̂) over a row is (g * x̂) . w: a GEMV on the product dw needs anyway,
                    // instead of a row-wise dot (186 vs 22 µs for [2048, 128]).
                    INDArray gTimesXHat = w != null && (w.requiresGrad || scale.requiresGrad) ? g2.mul(xHat2) : null;
                    if (scale.requiresGrad) {
                        INDArray dot = w != null
                                ? rowDot(gTimesXHat, w.data.reshape('c', new long[] {n}))
                                : Nd4j.getExecutioner()
                                        .exec(new Dot(g2, xHat2, 1))
                                        .reshape('c', s.shape()); // [rows, 1]
                        scale.send(dot.divi(s).negi().reshape('c', scale.shape()));
                    }
                    if (w != null && w.requiresGrad)
                        w.send(columnSums(gTimesXHat).reshape(w.shape()));
                    if (b != null && b.requiresGrad) b.send(columnSums(g2).reshape(b.shape()));
                    if (requiresGrad) {
                        INDArray dx = gxHat == g2
                                ? Nd4j.createUninitialized(g.dataType(), g2.shape())
                                : gxHat; // gx̂ is ours to overwrite
                        Nd4j.exec(new DivOp(gxHat, s, dx));
                        sendFresh(dx.reshape('c', shape()));
                    }
                },
                this,
                scale,
                w,
                b);
    }

    /** Sum of all elements, as a scalar tensor. */
    public Tensor sum() {
        INDArray out = Nd4j.scalar(data.dataType(), data.sumNumber().doubleValue());
        return result(out, g -> send(Nd4j.valueArrayOf(shape(), g.getDouble(0), data.dataType())), this);
    }

    public Tensor mean() {
        return sum().mul(1.0 / data.length());
    }

    public double item() {
        return data.getDouble(0);
    }

    // ---------------------------------------------------------------- softmax

    public Tensor softmaxLast() {
        INDArray out = alloc(shape());
        Nd4j.exec(new SoftMax(data, out, rank() - 1));
        return result(
                out,
                g -> {
                    // dx = y * (g - sum(g * y)) over [rows, n] views: a row-wise dot and two passes
                    long n = size(rank() - 1);
                    INDArray y = rows(out, n), g2 = rows(g, n), dx = Nd4j.createUninitialized(g.dataType(), y.shape());
                    INDArray dot = Nd4j.getExecutioner().exec(new Dot(g2, y, 1)).reshape('c', y.size(0), 1);
                    Nd4j.exec(new SubOp(g2, dot, dx));
                    sendFresh(dx.muli(y).reshape('c', shape()));
                },
                this);
    }

    public Tensor logSoftmaxLast() {
        int last = rank() - 1;
        INDArray max = data.max(true, last);
        INDArray shifted = data.sub(max);
        INDArray lse = Transforms.log(Transforms.exp(shifted, true).sum(true, last), false);
        INDArray out = alloc(shape()).assign(shifted.subi(lse));
        return result(
                out,
                g -> {
                    long n = size(last);
                    INDArray g2 = rows(g, n), softmax = Transforms.exp(rows(out, n), true);
                    send(g2.sub(softmax.muliColumnVector(g2.sum(true, 1))).reshape('c', shape()));
                },
                this);
    }

    // ---------------------------------------------------------------- linear algebra

    /**
     * x @ w (+ b) over the last dimension: [..., in] x [in, out] -> [..., out]. One GEMM into a
     * c-ordered result (Nd4j.gemm measured ~3x faster than INDArray.mmul here).
     */
    public Tensor linear(Tensor w, Tensor b) {
        long in = w.size(0), outDim = w.size(1);
        long[] outShape = shape().clone();
        outShape[outShape.length - 1] = outDim;
        INDArray x2 = rows(data, in);
        INDArray out = alloc(x2.size(0), outDim);
        // With a bias, the GEMM adds onto rows holding b: OpenBLAS zeroes the output for beta = 0,
        // so filling it with b costs no more and saves a pass.
        if (b != null) out.putiRowVector(b.data.reshape(1, outDim));
        Nd4j.gemm(x2, w.data, out, false, false, 1.0, b != null ? 1.0 : 0.0);
        INDArray shaped = out.reshape(outShape);
        return result(
                shaped,
                g -> {
                    // GEMMs into c-ordered results (the allocating Nd4j.gemm returns 'f' order, which every
                    // later op would copy), and the bias gradient as ones @ G: ND4J's column sum
                    // (sum over dimension 0) measured ~4x slower than the GEMM.
                    INDArray g2 = rows(g, outDim);
                    if (requiresGrad && grad != null && gradOwned) {
                        // x already has a gradient of its own (the query, key and value projections share x):
                        // the GEMM adds into it, which saves an allocation and a pass.
                        Nd4j.gemm(g2, w.data, grad.reshape('c', x2.size(0), in), false, true, 1.0, 1.0);
                    } else if (requiresGrad) {
                        INDArray dx = Nd4j.createUninitialized(g2.dataType(), x2.size(0), in);
                        Nd4j.gemm(g2, w.data, dx, false, true, 1.0, 0.0);
                        sendFresh(dx.reshape(shape()));
                    }
                    if (w.requiresGrad) {
                        INDArray dw = Nd4j.createUninitialized(g2.dataType(), in, outDim);
                        Nd4j.gemm(x2, g2, dw, true, false, 1.0, 0.0);
                        w.send(dw);
                    }
                    if (b != null && b.requiresGrad) b.send(columnSums(g2).reshape(b.shape()));
                },
                this,
                w,
                b);
    }

    /**
     * m [rows, n] times v [n], as [rows, 1]: row sums, means and dots as one GEMV, which took a
     * sixth of the time of ND4J's row reductions (22 vs 136 µs for a [2048, 128] mean).
     */
    private static INDArray rowDot(INDArray m, INDArray v) {
        INDArray out = Nd4j.createUninitialized(m.dataType(), m.size(0));
        Nd4j.getBlasWrapper().level2().gemv('c', 'N', 1.0, m, v, 0.0, out);
        return out.reshape('c', m.size(0), 1);
    }

    /** Sums of the columns of a c-ordered [rows, cols] matrix, as [1, cols]. */
    private static INDArray columnSums(INDArray m) {
        INDArray ones = Nd4j.ones(m.dataType(), 1, m.size(0));
        INDArray out = Nd4j.createUninitialized(m.dataType(), 1, m.size(1));
        Nd4j.gemm(ones, m, out, false, false, 1.0, 0.0);
        return out;
    }

    /**
     * A c-ordered [rows, cols] view (or copy, when the layout requires one) of an array: for reading.
     * Ops write into arrays they allocate in this shape and reshape those.
     */
    private static INDArray rows(INDArray a, long cols) {
        INDArray c = dense(a) ? a : a.dup('c');
        return c.reshape('c', c.length() / cols, cols);
    }

    /**
     * Batched matrix product over the last two dimensions, [..., m, k] x [..., k, n] (or
     * [..., n, k] with {@code transposeOther}) -> [..., m, n], scaled by alpha (inside the matmul).
     */
    public Tensor bmm(Tensor o, boolean transposeOther, double alpha) {
        int r = rank();
        long n = transposeOther ? o.size(r - 2) : o.size(r - 1);
        long[] outShape = shape().clone();
        outShape[r - 1] = n;
        INDArray out = alloc(outShape);
        Nd4j.exec(new Mmul(
                data,
                o.data,
                out,
                alpha,
                0,
                MMulTranspose.builder().transposeB(transposeOther).build()));
        return result(
                out,
                g -> {
                    if (requiresGrad) // dA = alpha G B^T (or alpha G B)
                    send(
                                Nd4j.exec(new Mmul(
                                        g,
                                        o.data,
                                        Nd4j.create(data.dataType(), shape()),
                                        alpha,
                                        0,
                                        MMulTranspose.builder()
                                                .transposeB(!transposeOther)
                                                .build()))[0]);
                    if (o.requiresGrad) {
                        INDArray d = transposeOther
                                // B is [n, k]: dB = alpha G^T A
                                ? Nd4j.exec(new Mmul(
                                        g,
                                        data,
                                        Nd4j.create(data.dataType(), o.shape()),
                                        alpha,
                                        0,
                                        MMulTranspose.builder().transposeA(true).build()))[0]
                                // B is [k, n]: dB = alpha A^T G
                                : Nd4j.exec(new Mmul(
                                        data,
                                        g,
                                        Nd4j.create(data.dataType(), o.shape()),
                                        alpha,
                                        0,
                                        MMulTranspose.builder().transposeA(true).build()))[0];
                        o.send(d);
                    }
                },
                this,
                o);
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
     * Attention scores for every head: this (queries [B, T, H, d]) dot k ([B, S, H, d]) over d,
     * times alpha, plus {@code addend} (the mask, broadcast; may be null): [B, H, T, S].
     */
    public Tensor attentionScores(Tensor k, double alpha, INDArray addend) {
        INDArray qh = data.permute(HEADS_FIRST), kh = k.data.permute(HEADS_FIRST); // [B, H, T, d], [B, H, S, d]
        INDArray out = alloc(qh.size(0), qh.size(1), qh.size(2), kh.size(2)); // [B, H, T, S]
        Nd4j.exec(new Mmul(
                qh, kh, out, alpha, 0, MMulTranspose.builder().transposeB(true).build()));
        if (addend != null) Nd4j.exec(new AddOp(out, addend, out));
        return result(
                out,
                g -> {
                    if (requiresGrad) { // dq = alpha G k
                        INDArray dq = Nd4j.createUninitialized(data.dataType(), shape());
                        Nd4j.exec(new Mmul(
                                g,
                                kh,
                                dq.permute(HEADS_FIRST),
                                alpha,
                                0,
                                MMulTranspose.builder().build()));
                        sendFresh(dq);
                    }
                    if (k.requiresGrad) { // dk = alpha G^T q
                        INDArray dk = Nd4j.createUninitialized(k.data.dataType(), k.shape());
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
                this,
                k);
    }

    /** The attention output of every head: this (the pattern [B, H, T, S]) times v ([B, S, H, d]), as z [B, T, H, d]. */
    public Tensor attend(Tensor v) {
        INDArray vh = v.data.permute(HEADS_FIRST); // [B, H, S, d]
        INDArray z = alloc(size(0), size(2), size(1), vh.size(3)); // [B, T, H, d]
        Nd4j.exec(new Mmul(
                data, vh, z.permute(HEADS_FIRST), MMulTranspose.builder().build()));
        return result(
                z,
                g -> {
                    INDArray gh = g.permute(HEADS_FIRST); // [B, H, T, d]
                    if (requiresGrad) { // dpattern = G v^T
                        INDArray dp = Nd4j.createUninitialized(data.dataType(), shape());
                        Nd4j.exec(new Mmul(
                                gh,
                                vh,
                                dp,
                                MMulTranspose.builder().transposeB(true).build()));
                        sendFresh(dp);
                    }
                    if (v.requiresGrad) { // dv = pattern^T G
                        INDArray dv = Nd4j.createUninitialized(v.data.dataType(), v.shape());
                        Nd4j.exec(new Mmul(
                                data,
                                gh,
                                dv.permute(HEADS_FIRST),
                                MMulTranspose.builder().transposeA(true).build()));
                        v.sendFresh(dv);
                    }
                },
                this,
                v);
    }

    // ---------------------------------------------------------------- shape

    public Tensor reshape(long... newShape) {
        INDArray src = data.ordering() == 'c' ? data : data.dup('c');
        INDArray out = src.reshape('c', newShape);
        long[] old = shape();
        return result(out, g -> send(g.reshape('c', old)), this);
    }

    /** A permuted copy in c-order (later GEMMs want contiguous operands). */
    public Tensor permute(int... dims) {
        INDArray out = alloc(permuted(shape(), dims)).assign(data.permute(dims));
        int[] inverse = new int[dims.length];
        for (int i = 0; i < dims.length; i++) inverse[dims[i]] = i;
        return result(out, g -> send(g.permute(inverse)), this);
    }

    private static long[] permuted(long[] s, int[] dims) {
        long[] r = new long[dims.length];
        for (int i = 0; i < dims.length; i++) r[i] = s[dims[i]];
        return r;
    }

    /** Elements [from, to) of the last dimension, as a copy. */
    public Tensor sliceLast(long from, long to) {
        return slice(rank() - 1, from, to);
    }

    /** Elements [from, to) of dimension {@code dim}, as a copy. */
    public Tensor slice(int dim, long from, long to) {
        INDArrayIndex[] idx = new INDArrayIndex[rank()];
        Arrays.fill(idx, NDArrayIndex.all());
        idx[dim] = NDArrayIndex.interval(from, to);
        long[] s = shape().clone();
        s[dim] = to - from;
        INDArray out = alloc(s).assign(data.get(idx));
        return result(
                out,
                g -> {
                    INDArray full = Nd4j.zeros(data.dataType(), shape());
                    full.get(idx).assign(g);
                    send(full);
                },
                this);
    }

    /** Sum over one dimension, which disappears. */
    public Tensor sum(int dim) {
        INDArray out = data.sum(dim);
        graph.own(out);
        long[] kept = shape().clone();
        kept[dim] = 1;
        return result(out, g -> send(g.reshape(kept).broadcast(shape()).dup()), this);
    }

    private INDArrayIndex[] lastIndex(INDArrayIndex last) {
        INDArrayIndex[] idx = new INDArrayIndex[rank()];
        Arrays.fill(idx, NDArrayIndex.all());
        idx[idx.length - 1] = last;
        return idx;
    }

    /** Concatenation along the last dimension. */
    public static Tensor concatLast(Tensor... parts) {
        int last = parts[0].rank() - 1;
        long total = 0;
        for (Tensor p : parts) total += p.size(last);
        long[] s = parts[0].shape().clone();
        s[last] = total;
        INDArray out = parts[0].alloc(s);
        long[] offsets = new long[parts.length];
        long off = 0;
        for (int i = 0; i < parts.length; i++) {
            offsets[i] = off;
            out.get(parts[i].lastIndex(NDArrayIndex.interval(off, off + parts[i].size(last))))
                    .assign(parts[i].data);
            off += parts[i].size(last);
        }
        return result(
                out,
                g -> {
                    for (int i = 0; i < parts.length; i++)
                        if (parts[i].requiresGrad)
                            parts[i].send(g.get(parts[i].lastIndex(
                                            NDArrayIndex.interval(offsets[i], offsets[i] + parts[i].size(last))))
                                    .dup());
                },
                parts);
    }

    /**
     * Repeats each slice of dimension {@code dim} {@code times} times in a row (torch's
     * repeat_interleave): grouped-query attention shares each key/value head among a group.
     */
    public Tensor repeatInterleave(int dim, int times) {
        if (times == 1) return this;
        long[] s = shape().clone();
        long n = s[dim];
        s[dim] = n * times;
        INDArray out = alloc(s);
        INDArrayIndex[] src = new INDArrayIndex[rank()], dst = new INDArrayIndex[rank()];
        Arrays.fill(src, NDArrayIndex.all());
        Arrays.fill(dst, NDArrayIndex.all());
        for (long i = 0; i < n; i++) {
            src[dim] = NDArrayIndex.point(i);
            dst[dim] = NDArrayIndex.interval(i * times, (i + 1) * times);
            INDArray slice = data.get(src);
            long[] bshape = out.get(dst).shape();
            long[] withOne = bshape.clone();
            withOne[dim] = 1;
            out.get(dst).assign(slice.reshape(withOne).broadcast(bshape));
        }
        return result(
                out,
                g -> {
                    INDArray d = Nd4j.create(data.dataType(), shape());
                    for (long i = 0; i < n; i++) {
                        src[dim] = NDArrayIndex.point(i);
                        dst[dim] = NDArrayIndex.interval(i * times, (i + 1) * times);
                        d.get(src).assign(g.get(dst).sum(dim));
                    }
                    send(d);
                },
                this);
    }

    /** The transpose of a matrix, as a view. */
    public Tensor transpose() {
        return result(data.transpose(), g -> send(g.transpose()), this);
    }

    /**
     * This value unchanged, with a hook on the way back: {@code onGradient} sees the gradient that
     * arrives here and returns the one to pass on (the same array to leave it unchanged).
     */
    public Tensor withGradientHook(java.util.function.UnaryOperator<INDArray> onGradient) {
        return result(data, g -> send(onGradient.apply(g)), this);
    }

    // ---------------------------------------------------------------- indexing

    /** Rows of a [n, d] table picked by index (an embedding lookup): result [ids.length, d]. */
    public Tensor gatherRows(long[] ids) {
        INDArray out =
                Nd4j.pullRows(data, 1, Arrays.stream(ids).mapToInt(i -> (int) i).toArray());
        graph.own(out);
        return result(
                out,
                g -> {
                    INDArray d = Nd4j.zeros(data.dataType(), shape());
                    int period = repeatPeriod(ids);
                    if (period > 0) {
                        // The positions of unpadded sequences, 0..p-1 once per sequence: row i's gradient is a sum
                        // over sequences, one GEMM with ones (ND4J's scatter-add measured ~3 ms for 4096 rows).
                        long n = size(1), sequences = ids.length / period;
                        INDArray sums = Nd4j.createUninitialized(data.dataType(), 1, period * n);
                        Nd4j.gemm(
                                Nd4j.ones(data.dataType(), 1, sequences),
                                rows(g, period * n),
                                sums,
                                false,
                                false,
                                1.0,
                                0.0);
                        d.get(NDArrayIndex.interval(0, period), NDArrayIndex.all())
                                .assign(sums.reshape('c', period, n));
                    } else {
                        scatterAddRows(d, Nd4j.createFromArray(ids), g);
                    }
                    send(d);
                },
                this);
    }

    /** p when ids are 0, 1, ..., p - 1 repeated a whole number of times, else 0. */
    private static int repeatPeriod(long[] ids) {
        int p = 1;
        while (p < ids.length && ids[p] != 0) p++;
        if (ids.length % p != 0) return 0;
        for (int i = 0; i < ids.length; i++) if (ids[i] != i % p) return 0;
        return p;
    }

    /** Elements {@code at} of an array's flat (c-order) values, as [at.length, 1]: the inverse of {@link #scatterAddRows} on a column. */
    private static INDArray gatherFlat(INDArray a, int[] at) {
        return Nd4j.pullRows(rows(a, 1), 1, at);
    }

    /** Adds row i of {@code updates} to row {@code index[i]} of {@code into} (repeated indices add up); returns {@code into}. */
    private static INDArray scatterAddRows(INDArray into, INDArray index, INDArray updates) {
        Nd4j.scatterUpdate(ScatterUpdate.UpdateOp.ADD, into, index, updates, 1);
        return into;
    }

    /**
     * Cross-entropy of [..., n] logits against one target index per leading position, times a weight
     * per position: {@code weight[r] * (logsumexp(x[r]) - x[r, target[r]])}, shape [...]. The same
     * as {@code -logSoftmaxLast().pickLast(target) * weight}, fused: the forward is one softmax
     * kernel and the loss -log p(target) (log-sum-exp when p underflows), the backward is
     * {@code g * weight * (softmax - onehot)} from the forward's softmax, about a third of the passes
     * over [rows, n] of the composed ops.
     */
    public Tensor crossEntropyLast(long[] target, double[] weight) {
        long n = size(rank() - 1);
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
        long[] outShape = Arrays.copyOf(shape(), rank() - 1);
        return result(
                loss.reshape('c', outShape),
                g -> {
                    INDArray coef = rows(g, 1).mul(w); // [rows, 1]
                    INDArray d = softmax; // softmax * coef, in place
                    Nd4j.exec(new MulOp(softmax, coef, d));
                    scatterAddRows(
                            d.reshape('c', d.length(), 1),
                            Nd4j.createFromArray(at),
                            coef.neg()); // - onehot * coef (a view of d)
                    send(d.reshape('c', shape()));
                },
                this);
    }

    /** Flat index r * n + index[r] of each row's picked element, checked ({@code op} names the caller in errors). */
    private static int[] flatIndices(String op, long[] index, long n) {
        int[] at = new int[index.length];
        for (int r = 0; r < index.length; r++) {
            if (index[r] < 0 || index[r] >= n)
                throw new IllegalArgumentException(op + ": index " + index[r] + " outside [0, " + n + ")");
            at[r] = Math.toIntExact(r * n + index[r]);
        }
        return at;
    }

    /**
     * For [..., n] values and one index per leading position, the picked [...] values (e.g. the
     * log-probability of each target token).
     */
    public Tensor pickLast(long[] index) {
        long n = size(rank() - 1);
        long rows = data.length() / n;
        if (index.length != rows)
            throw new IllegalArgumentException("pickLast: " + index.length + " indices for " + rows + " rows");
        // Gather element r * n + index[r] of the flat values: one op, where a one-hot mask would
        // allocate and multiply a whole [rows, n] array.
        int[] at = flatIndices("pickLast", index, n);
        long[] outShape = Arrays.copyOf(shape(), rank() - 1);
        INDArray out = gatherFlat(data, at).reshape('c', outShape);
        return result(
                out,
                g -> {
                    // The gradient lands on the picked elements only: one scatter into zeros.
                    INDArray d = scatterAddRows(
                            Nd4j.zeros(data.dataType(), rows * n, 1),
                            Nd4j.createFromArray(at),
                            rows(g, 1)); // [rows * n, 1]
                    send(d.reshape('c', shape()));
                },
                this);
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape()) + (requiresGrad ? " (grad)" : "");
    }
}
