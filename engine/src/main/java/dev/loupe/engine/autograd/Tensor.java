package dev.loupe.engine.autograd;

import static dev.loupe.engine.autograd.Rows.columnSums;
import static dev.loupe.engine.autograd.Rows.dense;
import static dev.loupe.engine.autograd.Rows.flatIndices;
import static dev.loupe.engine.autograd.Rows.gatherFlat;
import static dev.loupe.engine.autograd.Rows.rows;
import static dev.loupe.engine.autograd.Rows.scatterAddRows;

import java.util.Arrays;
import java.util.function.Consumer;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.api.ops.impl.reduce3.Dot;
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
 * broadcast dimensions. These are the general ops; the transformer's fused kernels (norm pieces,
 * attention, cross-entropy) are in {@link TransformerKernels}, built on the same plumbing
 * ({@link #result}, {@link #send}).
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
    static Tensor result(INDArray out, Consumer<INDArray> backward, Tensor... inputs) {
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

    INDArray alloc(long... shape) {
        return graph.alloc(data.dataType(), shape);
    }

    void send(INDArray g) {
        if (requiresGrad) accumulateGrad(g, false);
    }

    /** {@link #send} for a gradient array the caller made for this tensor alone. */
    void sendFresh(INDArray g) {
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
     * as x * sigmoid(2u): ND4J's {@code precise_gelu} is miscomputed, and its sigmoid is one fused
     * pass (tanh measured ~2x slower). sigmoid(2u) is kept for the backward pass, which then needs
     * 9 element-wise passes instead of 17: fwd + bwd of [4096, 512] took 18 instead of 28 ms on one thread.
     */
    public Tensor geluNew() {
        if (NativeKernels.available() && NativeKernels.readsInPlace(data)) { // one pass each way
            INDArray s = alloc(shape()), out = alloc(shape());
            NativeKernels.geluForward(data, out, s);
            return result(
                    out,
                    g -> {
                        INDArray dx = Nd4j.createUninitialized(DataType.FLOAT, shape());
                        NativeKernels.geluBackward(data, s, NativeKernels.readable(g), dx);
                        sendFresh(dx);
                    },
                    this);
        }
        INDArray s = alloc(shape()).assign(data);
        s.muli(data)
                .muli(2 * SQRT_2_OVER_PI * 0.044715)
                .addi(2 * SQRT_2_OVER_PI)
                .muli(data); // 2u
        Transforms.sigmoid(s, false); // s = sigmoid(2u)
        INDArray out = alloc(shape()).assign(s).muli(data); // x * s
        Consumer<INDArray> back = g -> {
            // d/dx = s + x * 2 s (1 - s) du/dx, du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
            INDArray d = data.mul(data)
                    .muli(2 * SQRT_2_OVER_PI * 3 * 0.044715)
                    .addi(2 * SQRT_2_OVER_PI)
                    .muli(data);
            d.muli(s.rsub(1).muli(s)).addi(s).muli(g);
            sendFresh(d);
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

    /**
     * {@code edited} — this value with some elements changed (a hook that edited a copy in place) —
     * in its place. On the way back the unchanged elements pass their gradient and the changed ones
     * get none, as after an assignment ({@code x[...] = v}) in PyTorch. This tensor itself when no
     * element changed.
     */
    public Tensor withEdits(INDArray edited) {
        INDArray unchanged = edited.eq(data).castTo(data.dataType()); // 1 where the hook left the value
        if (unchanged.minNumber().doubleValue() == 1) return this;
        return result(edited, g -> send(g.mul(unchanged)), this);
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
