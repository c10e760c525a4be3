package dev.loupe.probes.fit;

import dev.loupe.probes.data.RowSource;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * scikit-learn's logistic regression objective with its lbfgs solver's conventions
 * ({@code sklearn/linear_model/_logistic.py}, {@code _linear_loss.py}):
 * <pre>
 *   F(U, c) = 1/S Σ_i s_i ℓ(x'_i U + c, y_i) + λ/2 ‖U‖²,   λ = 1 / (C · S),   S = Σ_i s_i
 * </pre>
 * with s_i the sample (class) weights, x' the (optionally standardised) features, the intercept c not
 * penalised, ℓ the binomial log-loss on one logit (two classes) or the multinomial log-loss on one
 * logit per class (more classes). The gradient tolerance is checked on ∇_U F and ∇_c F, as SciPy
 * checks scikit-learn's parameters.
 *
 * <p><b>Reparameterisation.</b> The optimizer works on (V, β) with U = P V and c = a β − c'ᵀU, where
 * P is a preconditioner (P Pᵀ ≈ the inverse Hessian at the start, {@link Preconditioner}), c' the
 * column means of x' and a = 1/√(curvature of the intercept). This changes the path, not the
 * objective or its minimum: anisotropic activations (a residual stream) converge in tens of
 * iterations instead of thousands.
 *
 * <p><b>One pass per evaluation.</b> Each evaluation streams the rows once in float32 batches:
 * z = x W + b (raw-space W = U ⊘ s, b = c − mᵀW, so x is never standardised in memory), the loss
 * and residuals in double, then Xᵀ r; sums accumulate in double across batches.
 */
public final class LogisticObjective implements Lbfgs.Objective<LogisticObjective.PassInfo>, AutoCloseable {

    /** What one pass measured at a point: weighted objective parts, unweighted log-loss and accuracy. */
    public record PassInfo(double logLoss, long correct, long count) {
        public double accuracy() {
            return count == 0 ? Double.NaN : (double) correct / count;
        }
    }

    private final RowSource rows;
    private int batchRows;
    private final int d, k; // k logits: 1 (binary) or the number of classes
    private final int[] classIndex; // per row, -1 when the row does not take part
    private final double[] rowWeight; // per class
    private final double weightSum, lambda;
    private final INDArray standardMean, standardScale; // m, s [d] double (0 and 1 when not standardising)
    private final INDArray centre; // c' [d] double
    private double interceptScale; // a
    private Preconditioner precond;
    private final Map<Long, BatchTargets> targets = new HashMap<>();
    private final boolean cacheOneHot;
    private boolean exact;
    private INDArray doubleRows; // [batchRows, d] double, for passes in double precision
    private INDArray classSums; // [d, classes] double raw-space column sums of each class's rows, or null
    private final long[] classCounts; // rows taking part, per class

    /**
     * @param classIndex     per source row, its class's index in 0..classes-1, or -1 when it does not take part
     * @param classWeights   weight of each class's rows (1 without class weights)
     * @param standardMean   m: subtracted before scaling (zeros when not standardising)
     * @param standardScale  s: divides the features (ones when not standardising)
     * @param centre         c': column means of the standardised features
     */
    public LogisticObjective(
            RowSource rows,
            int batchRows,
            int classes,
            int[] classIndex,
            double[] classWeights,
            double c,
            INDArray standardMean,
            INDArray standardScale,
            INDArray centre,
            double interceptCurvature,
            Preconditioner precond) {
        this.rows = rows;
        this.batchRows = batchRows;
        this.d = rows.d();
        this.k = classes == 2 ? 1 : classes;
        this.classIndex = classIndex;
        this.rowWeight = classWeights;
        double s = 0;
        for (int ci : classIndex) if (ci >= 0) s += classWeights[ci];
        this.weightSum = s;
        this.lambda = Double.isInfinite(c) ? 0 : 1.0 / (c * s);
        this.standardMean = standardMean;
        this.standardScale = standardScale;
        this.centre = centre;
        this.interceptScale = 1.0 / Math.sqrt(interceptCurvature);
        this.precond = precond;
        this.cacheOneHot = k > 1 && (long) classIndex.length * k <= (1L << 24);
        this.classCounts = new long[classWeights.length];
        for (int ci : classIndex) if (ci >= 0) classCounts[ci]++;
    }

    /**
     * Lets a pass at W = 0 come from each class's column sums ([d, classes] double, raw features, the
     * rows that take part; {@link ColumnStats}) instead of from the rows: there every row's logits are
     * b, so each row's loss and residual depend on its class only, and Xᵀ r is the class sums times
     * the classes' residuals. A fit starts at W = 0, so this saves its first pass over the rows.
     */
    public void useClassSums(INDArray classSums) {
        this.classSums = classSums;
    }

    /**
     * Passes in double instead of float32 from now on. Float32 rows and scores are exact enough while
     * the gradient is large; near a tight tolerance their rounding (about 1e-7 of each product) is
     * larger than the decreases the line search has to see, so a fit finishes in double.
     */
    public void useDoublePrecision() {
        exact = true;
        // each double batch is a copy: back to the streaming batch size, so that an in-memory source's
        // single whole-array batch does not become a double copy of the whole array
        int bounded = Math.min(batchRows, Batching.rows(d, k));
        if (bounded != batchRows) {
            batchRows = bounded;
            targets.clear(); // cached per batch start, for the old batch size
        }
    }

    public boolean doublePrecision() {
        return exact;
    }

    /**
     * The loss curvature of each sample row at {@code theta}: p(1 − p) for two classes, the mean over
     * classes of p_k(1 − p_k) for more. [m] double.
     */
    public INDArray curvature(INDArray sample, double[] theta) {
        RawWeights raw = raw(coefficients(theta));
        INDArray z = sample.castTo(DataType.DOUBLE).mmul(raw.w()).addiRowVector(raw.b()); // [m, k]
        if (k == 1) {
            INDArray p = Transforms.sigmoid(z, false);
            return p.mul(p.rsub(1)).reshape(sample.size(0));
        }
        INDArray p = dev.loupe.probes.metrics.Metrics.softmax(z);
        return p.mul(p.rsub(1)).mean(1);
    }

    /**
     * Switches to a new preconditioner and intercept curvature, returning {@code theta}'s point in the
     * new coordinates (the same coefficients U and intercept c).
     */
    public double[] reparameterize(double[] theta, Preconditioner next, double interceptCurvature) {
        Coefficients c = coefficients(theta);
        precond = next;
        interceptScale = 1.0 / Math.sqrt(interceptCurvature);
        INDArray v = next.invert(c.u()); // [d, k]
        INDArray beta =
                c.intercept().add(centre.reshape(1, d).mmul(c.u()).reshape(k)).divi(interceptScale);
        double[] out = new double[size()];
        System.arraycopy(v.dup('f').data().asDouble(), 0, out, 0, k * d);
        System.arraycopy(beta.data().asDouble(), 0, out, k * d, k);
        return out;
    }

    /** Number of optimizer parameters: k·d weights then k intercepts. */
    public int size() {
        return k * d + k;
    }

    public int logits() {
        return k;
    }

    public double lambda() {
        return lambda;
    }

    public double weightSum() {
        return weightSum;
    }

    /** scikit-learn's parameters at a point: coef U [d, k] and intercept c [k], in the (standardised) feature space. */
    public record Coefficients(INDArray u, INDArray intercept) {}

    /** Raw-space weights: z = x W + b for unstandardised x. W [d, k] and b [k], double. */
    public record RawWeights(INDArray w, INDArray b) {}

    public Coefficients coefficients(double[] theta) {
        INDArray v = Nd4j.createFromArray(java.util.Arrays.copyOf(theta, k * d)).reshape('f', d, k);
        INDArray u = precond.apply(v); // [d, k]
        INDArray beta = Nd4j.createFromArray(java.util.Arrays.copyOfRange(theta, k * d, k * d + k));
        INDArray intercept =
                beta.mul(interceptScale).subi(centre.reshape(1, d).mmul(u).reshape(k));
        return new Coefficients(u, intercept);
    }

    public RawWeights raw(Coefficients c) {
        INDArray w = c.u().divColumnVector(standardScale.reshape(d, 1)); // [d, k]
        INDArray b = c.intercept().sub(standardMean.reshape(1, d).mmul(w).reshape(k));
        return new RawWeights(w, b);
    }

    @Override
    public Lbfgs.Evaluation<PassInfo> evaluate(double[] theta) {
        Coefficients coef = coefficients(theta);
        RawWeights raw = raw(coef);
        Pass p = pass(raw);
        INDArray u = coef.u();
        double f = p.loss + 0.5 * lambda * u.mul(u).sumNumber().doubleValue();
        // ∇U in scikit-learn's parameters: (G - m g_bᵀ) ⊘ s + λU
        INDArray gradU = p.gradW
                .sub(standardMean.reshape(d, 1).mmul(p.gradB.reshape(1, k)))
                .divColumnVector(standardScale.reshape(d, 1))
                .addi(u.mul(lambda));
        double stop = Math.max(
                Transforms.abs(gradU).maxNumber().doubleValue(),
                Transforms.abs(p.gradB).maxNumber().doubleValue());
        // optimizer gradient: ∇V = Pᵀ(∇U − c' g_bᵀ), ∇β = a g_b
        INDArray gradV = precond.applyTransposed(gradU.sub(centre.reshape(d, 1).mmul(p.gradB.reshape(1, k))));
        double[] g = new double[size()];
        System.arraycopy(gradV.dup('f').data().asDouble(), 0, g, 0, k * d);
        double[] gb = p.gradB.data().asDouble();
        for (int j = 0; j < k; j++) g[k * d + j] = interceptScale * gb[j];
        return new Lbfgs.Evaluation<>(f, g, stop, new PassInfo(p.logLoss, p.correct, p.count));
    }

    private record Pass(double loss, INDArray gradW, INDArray gradB, double logLoss, long correct, long count) {}

    /** Weights, inclusion and classes of one batch (multinomial passes), as arrays; kept between passes. */
    private record BatchTargets(INDArray weight, INDArray mask, INDArray classIdx, INDArray oneHot) {}

    private BatchTargets targets(long first, int b) {
        BatchTargets t = targets.get(first);
        if (t != null) return t;
        double[] w = new double[b], mask = new double[b];
        long[] idx = new long[b];
        for (int i = 0; i < b; i++) {
            int ci = classIndex[(int) (first + i)];
            idx[i] = Math.max(ci, 0);
            if (ci < 0) continue;
            w[i] = rowWeight[ci] / weightSum;
            mask[i] = 1;
        }
        INDArray oneHot = null;
        if (cacheOneHot) oneHot = oneHot(idx, b);
        t = new BatchTargets(Nd4j.createFromArray(w), Nd4j.createFromArray(mask), Nd4j.createFromArray(idx), oneHot);
        targets.put(first, t);
        return t;
    }

    private INDArray oneHot(long[] idx, int b) {
        double[] oh = new double[b * k];
        for (int i = 0; i < b; i++) oh[i * k + (int) idx[i]] = 1;
        return Nd4j.createFromArray(oh).reshape('c', b, k);
    }

    /**
     * A batch cast to double in a buffer kept between passes: a fresh [batch, d] double array is
     * mapped from the kernel and returned at every batch (over glibc's mmap threshold), and its page
     * faults cost more than the pass on a VM.
     */
    private INDArray inDouble(INDArray rowsIn) {
        long n = rowsIn.size(0);
        if (doubleRows == null || doubleRows.size(0) < n) {
            if (doubleRows != null) doubleRows.close();
            doubleRows = Nd4j.createUninitializedDetached(DataType.DOUBLE, 'c', n, d);
        }
        INDArray x =
                n == doubleRows.size(0) ? doubleRows : doubleRows.get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
        return x.assign(rowsIn);
    }

    private Pass pass(RawWeights raw) {
        if (classSums != null && !exact && raw.w().amaxNumber().doubleValue() == 0) return constantLogitsPass(raw.b());
        DataType type = exact ? DataType.DOUBLE : DataType.FLOAT;
        INDArray w32 = raw.w().castTo(type);
        INDArray wVec = k == 1 ? w32.dup('c').reshape(d) : w32.dup('f');
        INDArray b = raw.b();
        double[] loss = {0}, logLoss = {0};
        long[] correct = {0}, count = {0};
        INDArray gradW = Nd4j.zeros(DataType.DOUBLE, d, k);
        INDArray gradB = Nd4j.zeros(DataType.DOUBLE, k);
        rows.scan(batchRows, (first, rowsIn) -> {
            INDArray x = exact ? inDouble(rowsIn) : rowsIn;
            int n = (int) x.size(0);
            if (k == 1) binaryBatch(first, x, wVec, b.getDouble(0), loss, logLoss, correct, count, gradW, gradB);
            else multinomialBatch(x, wVec, b, targets(first, n), loss, logLoss, correct, count, gradW, gradB);
        });
        return new Pass(
                loss[0], gradW, gradB, count[0] == 0 ? Double.NaN : logLoss[0] / count[0], correct[0], count[0]);
    }

    /** The pass at W = 0 ({@link #useClassSums}): the logits of every row are b [k]. */
    private Pass constantLogitsPass(INDArray bias) {
        double[] b = bias.toDoubleVector();
        int classes = classCounts.length;
        double[][] residual = new double[classes][k]; // r_c: the residual of each row of class c
        double[] gradB = new double[k];
        double loss = 0, logLoss = 0;
        long correct = 0, count = 0;
        if (k == 1) { // as binaryBatch, row by row
            double z = b[0], e = Math.exp(-Math.abs(z)), sigmoid = z >= 0 ? 1 / (1 + e) : e / (1 + e);
            for (int c = 0; c < 2; c++) {
                double l = Math.max(z, 0) + Math.log(1 + e) - c * z, weight = rowWeight[c] / weightSum;
                long n = classCounts[c];
                loss += n * weight * l;
                logLoss += n * l;
                count += n;
                if ((z > 0) == (c == 1)) correct += n;
                residual[c][0] = weight * (sigmoid - c);
                gradB[0] += n * residual[c][0];
            }
        } else { // as multinomialBatch: ℓ = logsumexp(b) − b_y, r = w (softmax(b) − onehot(y))
            int argMax = 0;
            for (int j = 1; j < k; j++) if (b[j] > b[argMax]) argMax = j;
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.exp(b[j] - b[argMax]);
            double logSumExp = b[argMax] + Math.log(sum);
            for (int c = 0; c < classes; c++) {
                double l = logSumExp - b[c], weight = rowWeight[c] / weightSum;
                long n = classCounts[c];
                loss += n * weight * l;
                logLoss += n * l;
                count += n;
                if (argMax == c) correct += n;
                for (int j = 0; j < k; j++) {
                    residual[c][j] = weight * (Math.exp(b[j] - logSumExp) - (j == c ? 1 : 0));
                    gradB[j] += n * residual[c][j];
                }
            }
        }
        INDArray gradW = classSums.mmul(Nd4j.createFromArray(residual)); // [d, classes] x [classes, k]
        return new Pass(
                loss, gradW, Nd4j.createFromArray(gradB), count == 0 ? Double.NaN : logLoss / count, correct, count);
    }

    /**
     * One batch of a binary pass: z = x w + b by a BLAS GEMV, then each row's loss, prediction and
     * residual r_i = s_i (σ(z_i) − y_i) / S in one loop over the rows, then Xᵀ r by a second GEMV.
     * The loop is over one scalar per row (O(rows), against the GEMVs' O(rows·d)): as ND4J ops the same
     * arithmetic took about 25 element-wise ops of ~0.5-1 ms each on 100,000 rows, more than the two
     * GEMVs over the [100000, 768] float32 rows (17-24 ms together); as a loop it takes ~3 ms. z, r and
     * Xᵀ r live in native buffers kept between passes (read and written in place, no Java copies).
     */
    private void binaryBatch(
            long first,
            INDArray x,
            INDArray w,
            double b,
            double[] loss,
            double[] logLoss,
            long[] correct,
            long[] count,
            INDArray gradW,
            INDArray gradB) {
        int n = (int) x.size(0);
        RowVectors v = rowVectors(x.dataType(), n);
        Blas.rowsTimesVector(x, w, v.z);
        boolean single = x.dataType() == DataType.FLOAT; // else double (a fit's last passes)
        java.nio.ByteBuffer zb = nativeBytes(v.z), rb = nativeBytes(v.r);
        double lossSum = 0, logLossSum = 0, residualSum = 0;
        long taking = 0, right = 0;
        for (int i = 0; i < n; i++) {
            int ci = classIndex[(int) (first + i)];
            double ri = 0; // 0: the row does not take part
            if (ci >= 0) {
                double zi = (single ? zb.getFloat(4 * i) : zb.getDouble(8 * i)) + b;
                double y = ci, weight = rowWeight[ci] / weightSum;
                // ℓ = softplus(z) − y z, softplus(z) = max(z, 0) + log(1 + e), σ(z) from e = exp(−|z|). log(1 + e)
                // is off log1p(e) by at most 2.2e-16 absolute, as rounding the loss sum is; Math.log is an
                // intrinsic, log1p is not (1.9 vs 3.0 ms per 100,000 rows)
                double e = Math.exp(-Math.abs(zi));
                double l = Math.max(zi, 0) + Math.log(1 + e) - y * zi;
                lossSum += weight * l;
                logLossSum += l;
                taking++;
                if ((zi > 0) == (ci == 1)) right++;
                double sigmoid = zi >= 0 ? 1 / (1 + e) : e / (1 + e);
                ri = weight * (sigmoid - y);
                residualSum += ri;
            }
            if (single) rb.putFloat(4 * i, (float) ri);
            else rb.putDouble(8 * i, ri);
        }
        loss[0] += lossSum;
        logLoss[0] += logLossSum;
        count[0] += taking;
        correct[0] += right;
        gradB.addi(residualSum);
        Blas.transposeTimesVector(x, v.r, v.g);
        gradW.addi(v.g.castTo(DataType.DOUBLE).reshape(d, 1));
    }

    /** A binary batch's z [n], r [n] (of the rows' type) and Xᵀ r [d], kept per batch size and type. */
    private record RowVectors(INDArray z, INDArray r, INDArray g) {}

    private final Map<String, RowVectors> rowVectors = new HashMap<>(); // a pass has at most two batch sizes

    private RowVectors rowVectors(DataType type, int n) {
        return rowVectors.computeIfAbsent(
                type + " " + n,
                key -> new RowVectors(
                        Nd4j.createUninitializedDetached(type, n),
                        Nd4j.createUninitializedDetached(type, n),
                        Nd4j.createUninitializedDetached(type, d)));
    }

    /**
     * Frees the buffers kept between passes now rather than at some later GC, so that the next fit
     * reuses their memory instead of faulting in fresh pages.
     */
    @Override
    public void close() {
        for (RowVectors v : rowVectors.values()) close(v.z, v.r, v.g);
        rowVectors.clear();
        if (doubleRows != null) doubleRows.close();
        doubleRows = null;
    }

    /** An array's native memory as a buffer in native byte order, to read and write in place. */
    private static java.nio.ByteBuffer nativeBytes(INDArray a) {
        return ((java.nio.ByteBuffer) a.data().asNio()).order(java.nio.ByteOrder.nativeOrder());
    }

    /** Frees batch temporaries now: a fit runs thousands of passes, and ND4J frees only at GC otherwise. */
    private static void close(INDArray... arrays) {
        for (INDArray a : arrays) if (a != null && a.closeable()) a.close();
    }

    private void multinomialBatch(
            INDArray x,
            INDArray w,
            INDArray b,
            BatchTargets t,
            double[] loss,
            double[] logLoss,
            long[] correct,
            long[] count,
            INDArray gradW,
            INDArray gradB) {
        int n = (int) x.size(0);
        INDArray z32 = Blas.rowsTimesMatrix(x, w);
        INDArray z = z32.castTo(DataType.DOUBLE).addiRowVector(b); // [n, k]
        INDArray oneHot = t.oneHot() != null ? t.oneHot() : oneHot(t.classIdx().toLongVector(), n);
        INDArray max = z.max(1); // [n]
        INDArray e = Transforms.exp(z.subColumnVector(max.reshape(n, 1)), false);
        INDArray sum = e.sum(1); // [n]
        // ℓ = logsumexp(z) − z_y
        INDArray zy = z.mul(oneHot), zySum = zy.sum(1);
        INDArray l = Transforms.log(sum, true).addi(max).subi(zySum);
        INDArray wl = l.mul(t.weight());
        loss[0] += wl.sumNumber().doubleValue();
        logLoss[0] += l.muli(t.mask()).sumNumber().doubleValue();
        count[0] += (long) t.mask().sumNumber().doubleValue();
        INDArray argMax = z.argMax(1), predicted = argMax.castTo(DataType.LONG), hit = predicted.eq(t.classIdx());
        INDArray hits = hit.castTo(DataType.DOUBLE);
        correct[0] += Math.round(hits.muli(t.mask()).sumNumber().doubleValue());
        // R = w_i (softmax(z) − onehot(y)) / S
        INDArray r = e.diviColumnVector(sum.reshape(n, 1))
                .subi(oneHot)
                .muliColumnVector(t.weight().reshape(n, 1));
        INDArray rSum = r.sum(0);
        gradB.addi(rSum);
        INDArray rx = r.castTo(x.dataType());
        INDArray g32 = Blas.transposeTimesMatrix(x, rx), g = g32.castTo(DataType.DOUBLE);
        gradW.addi(g);
        close(z32, z, max, e, sum, zy, zySum, l, wl, argMax, predicted, hit, hits, rSum, rx, g32, g);
        if (oneHot != t.oneHot()) close(oneHot);
    }
}
