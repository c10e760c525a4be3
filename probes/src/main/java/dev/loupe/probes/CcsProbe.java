package dev.loupe.probes;

import dev.loupe.engine.LoupeException;
import dev.loupe.probes.fit.Lbfgs;
import dev.loupe.probes.metrics.Metrics;
import java.util.Arrays;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Contrast-consistent search (Burns et al., "Discovering Latent Knowledge in Language Models Without
 * Supervision"): from activations of contrast pairs — each statement once with "yes" (x⁺) and once
 * with "no" (x⁻) — finds a direction θ with p(x) = σ(θ·x̃ + b) consistent,
 * p(x⁺) ≈ 1 − p(x⁻), and confident, without labels:
 * <pre>
 *   L = mean[(p(x⁺) − (1 − p(x⁻)))²] + mean[min(p(x⁺), p(x⁻))²] + l2/2 ‖θ‖²
 * </pre>
 * Each side is normalised by its own mean (and, with {@code normalizeVariance}, its standard
 * deviation), as in the paper, so that the "yes"/"no" token itself is not what the probe finds.
 * The loss is not convex: it is minimised by L-BFGS from {@code restarts} random starts (seeded) and
 * the start with the lowest loss is kept. The sign of θ is arbitrary unless labels are given to
 * {@link #fit(INDArray, INDArray, int[])}; then "true" is the class whose pairs score higher.
 *
 * <p>Predictions on pairs are {@code ½(p(x⁺) + 1 − p(x⁻))} ({@link #predictPairs}); as a plain
 * {@link Probe} on single rows it scores x⁺-side activations (W, b fold in the x⁺ normalisation).
 */
public final class CcsProbe extends LinearProbe {
    public static final String KIND = "ccs";
    private final int restarts, maxIter;
    private final double l2;
    private final long seed;
    private final boolean normalizeVariance;
    private double loss = Double.NaN;

    private CcsProbe(int restarts, int maxIter, double l2, long seed, boolean normalizeVariance, String hook) {
        super(hook);
        if (restarts < 1) throw new LoupeException("ccs probe: restarts must be >= 1, got " + restarts);
        if (maxIter < 1) throw new LoupeException("ccs probe: max_iter must be >= 1, got " + maxIter);
        if (!(l2 >= 0)) throw new LoupeException("ccs probe: l2 must be >= 0, got " + l2);
        this.restarts = restarts;
        this.maxIter = maxIter;
        this.l2 = l2;
        this.seed = seed;
        this.normalizeVariance = normalizeVariance;
    }

    CcsProbe(State s) {
        super(s);
        this.restarts = ((Number) s.params().getOrDefault("restarts", 10)).intValue();
        this.maxIter = ((Number) s.params().getOrDefault("max_iter", 1000)).intValue();
        this.l2 = ((Number) s.params().getOrDefault("l2", 0.01)).doubleValue();
        this.seed = ((Number) s.params().getOrDefault("seed", 0)).longValue();
        this.normalizeVariance = Boolean.TRUE.equals(s.params().get("normalize_variance"));
        this.loss = ((Number) s.params().getOrDefault("loss", Double.NaN)).doubleValue();
    }

    /** 10 restarts, 1000 iterations each at most, l2 = 0.01, seed 0, mean normalisation. */
    public static CcsProbe create() {
        return new CcsProbe(10, 1000, 0.01, 0, false, null);
    }

    public static CcsProbe create(
            int restarts, int maxIter, double l2, long seed, boolean normalizeVariance, String hook) {
        return new CcsProbe(restarts, maxIter, l2, seed, normalizeVariance, hook);
    }

    @Override
    public String kind() {
        return KIND;
    }

    /** The CCS loss of the kept start. */
    public double loss() {
        return loss;
    }

    /** Fits on contrast pairs: row i of xPos and of xNeg are the same statement with "yes" and "no". */
    public CcsProbe fit(INDArray xPos, INDArray xNeg) {
        return fit(xPos, xNeg, null);
    }

    /** As {@link #fit(INDArray, INDArray)}; labels (0/1 per pair, 1 = true) only orient the direction. */
    public CcsProbe fit(INDArray xPos, INDArray xNeg, int[] labels) {
        check(xPos, xNeg);
        int n = (int) xPos.size(0), d = (int) xPos.size(1);
        if (labels != null && labels.length != n)
            throw new LoupeException("ccs probe: " + n + " pairs but " + labels.length + " labels");
        INDArray p = xPos.castTo(DataType.DOUBLE), q = xNeg.castTo(DataType.DOUBLE);
        INDArray muP = p.mean(0), muQ = q.mean(0);
        INDArray sP = normalizeVariance ? std(p, muP) : Nd4j.ones(DataType.DOUBLE, d);
        INDArray sQ = normalizeVariance ? std(q, muQ) : Nd4j.ones(DataType.DOUBLE, d);
        INDArray np = p.subRowVector(muP).diviRowVector(sP),
                nq = q.subRowVector(muQ).diviRowVector(sQ);
        Random rng = new Random(seed);
        Lbfgs.Result<Void> best = null;
        for (int r = 0; r < restarts; r++) {
            double[] x0 = new double[d + 1];
            for (int j = 0; j < d; j++) x0[j] = rng.nextGaussian() / Math.sqrt(d);
            Lbfgs.Result<Void> res = Lbfgs.minimize(
                    t -> evaluate(t, np, nq), x0, new Lbfgs.Options(10, maxIter, 1e-7, 64 * Math.ulp(1.0), 50));
            if (best == null || res.at().f() < best.at().f()) best = res;
        }
        double[] t = best.x();
        INDArray theta = Nd4j.createFromArray(Arrays.copyOf(t, d));
        double bias = t[d];
        INDArray thetaRaw = theta.div(sP); // acts on x⁺ − μ⁺ in raw units
        double c = bias - thetaRaw.mul(muP).sumNumber().doubleValue();
        if (labels != null) {
            // orient: true (1) pairs should have the higher averaged probability
            double[] pr = pairProbabilities(np, nq, theta, bias).toDoubleVector();
            double s1 = 0, s0 = 0;
            int n1 = 0, n0 = 0;
            for (int i = 0; i < n; i++)
                if (labels[i] == 1) {
                    s1 += pr[i];
                    n1++;
                } else {
                    s0 += pr[i];
                    n0++;
                }
            if (n1 > 0 && n0 > 0 && s1 / n1 < s0 / n0) {
                theta.negi();
                bias = -bias;
                thetaRaw.negi();
                c = -c;
            }
        }
        loss = best.at().f();
        INDArray[] wb = twoClass(thetaRaw, c);
        w = wb[0];
        b = wb[1];
        classes = new int[] {0, 1};
        extras.clear();
        extras.put("direction", theta.div(sP).castTo(DataType.FLOAT));
        extras.put("mean_pos", muP.castTo(DataType.FLOAT));
        extras.put("mean_neg", muQ.castTo(DataType.FLOAT));
        extras.put("scale_pos", sP.castTo(DataType.FLOAT));
        extras.put("scale_neg", sQ.castTo(DataType.FLOAT));
        extras.put("theta", theta.castTo(DataType.FLOAT));
        params.clear();
        params.put("restarts", restarts);
        params.put("max_iter", maxIter);
        params.put("l2", l2);
        params.put("seed", seed);
        params.put("normalize_variance", normalizeVariance);
        params.put("bias", bias);
        params.put("loss", loss);
        metrics.clear();
        if (labels != null) metrics.put("train_accuracy", scorePairs(xPos, xNeg, labels));
        return this;
    }

    /** ½(p(x⁺) + 1 − p(x⁻)) per pair, [n] float32: the probability that the statement is true. */
    public INDArray predictPairs(INDArray xPos, INDArray xNeg) {
        requireFitted();
        check(xPos, xNeg);
        INDArray np = xPos.castTo(DataType.DOUBLE)
                .subRowVector(extras.get("mean_pos").castTo(DataType.DOUBLE))
                .diviRowVector(extras.get("scale_pos").castTo(DataType.DOUBLE));
        INDArray nq = xNeg.castTo(DataType.DOUBLE)
                .subRowVector(extras.get("mean_neg").castTo(DataType.DOUBLE))
                .diviRowVector(extras.get("scale_neg").castTo(DataType.DOUBLE));
        double bias = ((Number) params.get("bias")).doubleValue();
        return pairProbabilities(np, nq, extras.get("theta").castTo(DataType.DOUBLE), bias)
                .castTo(DataType.FLOAT);
    }

    /** Accuracy of {@code predictPairs > 0.5} against 0/1 labels. */
    public double scorePairs(INDArray xPos, INDArray xNeg, int[] labels) {
        double[] p = predictPairs(xPos, xNeg).toDoubleVector();
        int[] predicted = new int[p.length];
        for (int i = 0; i < p.length; i++) predicted[i] = p[i] > 0.5 ? 1 : 0;
        return Metrics.accuracy(labels, predicted);
    }

    private static INDArray pairProbabilities(INDArray np, INDArray nq, INDArray theta, double bias) {
        INDArray pp =
                Transforms.sigmoid(np.mmul(theta.reshape(theta.length(), 1)).addi(bias), false);
        INDArray pq =
                Transforms.sigmoid(nq.mmul(theta.reshape(theta.length(), 1)).addi(bias), false);
        return pp.add(pq.rsub(1)).muli(0.5).reshape(np.size(0));
    }

    private Lbfgs.Evaluation<Void> evaluate(double[] t, INDArray np, INDArray nq) {
        int d = (int) np.size(1);
        long n = np.size(0);
        INDArray theta = Nd4j.createFromArray(Arrays.copyOf(t, d)).reshape(d, 1);
        double bias = t[d];
        INDArray p = Transforms.sigmoid(np.mmul(theta).addi(bias), false); // [n, 1]
        INDArray q = Transforms.sigmoid(nq.mmul(theta).addi(bias), false);
        INDArray consistency = p.add(q).subi(1);
        INDArray pLower = p.lt(q).castTo(DataType.DOUBLE);
        INDArray minPq = p.mul(pLower).addi(q.mul(pLower.rsub(1)));
        double f = (consistency.mul(consistency).sumNumber().doubleValue()
                                + minPq.mul(minPq).sumNumber().doubleValue())
                        / n
                + 0.5 * l2 * theta.mul(theta).sumNumber().doubleValue();
        // dL/dp = 2(p+q−1)/n + 2 p [p<q]/n, dL/dq = 2(p+q−1)/n + 2 q [q<=p]/n; dp/dz = p(1−p)
        INDArray dp = consistency.mul(2.0 / n).addi(p.mul(pLower).muli(2.0 / n)).muli(p.mul(p.rsub(1)));
        INDArray dq = consistency
                .mul(2.0 / n)
                .addi(q.mul(pLower.rsub(1)).muli(2.0 / n))
                .muli(q.mul(q.rsub(1)));
        INDArray gTheta = np.transpose().mmul(dp).addi(nq.transpose().mmul(dq)).addi(theta.mul(l2));
        double gBias = dp.sumNumber().doubleValue() + dq.sumNumber().doubleValue();
        double[] g = new double[d + 1];
        System.arraycopy(gTheta.data().asDouble(), 0, g, 0, d);
        g[d] = gBias;
        double stop = 0;
        for (double v : g) stop = Math.max(stop, Math.abs(v));
        return new Lbfgs.Evaluation<>(f, g, stop, null);
    }

    private static INDArray std(INDArray x, INDArray mean) {
        INDArray c = x.subRowVector(mean);
        double[] sd = Transforms.sqrt(c.muli(c).mean(0), false).toDoubleVector();
        for (int j = 0; j < sd.length; j++) if (!(sd[j] > 0)) sd[j] = 1;
        return Nd4j.createFromArray(sd);
    }

    private static void check(INDArray xPos, INDArray xNeg) {
        if (xPos == null || xNeg == null) throw new LoupeException("ccs probe: contrast activations are null");
        if (xPos.rank() != 2 || !Arrays.equals(xPos.shape(), xNeg.shape()))
            throw new LoupeException("ccs probe: x+ and x- must both be [pairs, d], got "
                    + Arrays.toString(xPos.shape()) + " and " + Arrays.toString(xNeg.shape()));
        if (xPos.size(0) < 2) throw new LoupeException("ccs probe: needs at least 2 pairs, got " + xPos.size(0));
        for (INDArray x : new INDArray[] {xPos, xNeg})
            if (x.isNaN().any() || x.isInfinite().any())
                throw new LoupeException("ccs probe: contrast activations must be finite (found NaN or infinity)");
    }
}
