package dev.loupe.probes;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.fit.Batching;
import dev.loupe.probes.fit.ColumnStats;
import dev.loupe.probes.fit.Lbfgs;
import dev.loupe.probes.fit.LogisticObjective;
import dev.loupe.probes.fit.Preconditioner;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * L2-regularised logistic regression, scikit-learn's {@code LogisticRegression(C, tol, max_iter,
 * class_weight, solver="lbfgs")}: two classes are fitted on one logit (binomial loss), more on one
 * logit per class (multinomial loss, softmax); the objective is {@code C · Σ sᵢ log-loss + ½‖W‖²}
 * with the intercept not penalised (scaled by 1/(C·Σ sᵢ) as scikit-learn's solver scales it), and
 * L-BFGS stops when the largest gradient entry is at most {@code tol}, as there. With
 * {@code standardize(true)} it is {@code make_pipeline(StandardScaler(), LogisticRegression(...))}:
 * the penalty acts on the coefficients of standardised features, while the saved W and b act on raw
 * activations.
 *
 * <pre>{@code
 * LogisticProbe probe = LogisticProbe.builder().c(1.0).build().fit(x, y);   // x [n, d], y int[n]
 * INDArray p = probe.predictProba(xTest);                                   // [n, classes]
 * }</pre>
 *
 * <p>Unlike scikit-learn, the optimizer runs in whitened coordinates ({@link Precondition}): the
 * same objective and stopping rule, far fewer iterations on anisotropic activations.
 */
public final class LogisticProbe extends LinearProbe implements SupervisedProbe {
    public static final String KIND = "logistic";

    private final double c, tol;
    private final int maxIter;
    private final ClassWeight classWeight;
    private final boolean standardize, progress;
    private final Precondition precondition;
    private int nIter = -1;
    private Lbfgs.Status status;

    private LogisticProbe(Builder b) {
        super(b.hook);
        this.c = b.c;
        this.tol = b.tol;
        this.maxIter = b.maxIter;
        this.classWeight = b.classWeight;
        this.standardize = b.standardize;
        this.precondition = b.precondition;
        this.progress = b.progress;
    }

    LogisticProbe(State s) {
        super(s);
        this.c = ((Number) s.params().getOrDefault("C", 1.0)).doubleValue();
        this.tol = ((Number) s.params().getOrDefault("tol", DEFAULT_TOL)).doubleValue();
        this.maxIter = ((Number) s.params().getOrDefault("max_iter", 100)).intValue();
        this.classWeight = ClassWeight.none();
        this.standardize = Boolean.TRUE.equals(s.params().get("standardize"));
        this.precondition = Precondition.AUTO;
        this.progress = false;
        this.nIter = ((Number) s.params().getOrDefault("n_iter", -1)).intValue();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The default gradient tolerance, tighter than scikit-learn's 1e-4: at 1e-4 two correct solvers can
     * stop 2e-3 apart in probability on ordinary data, at 1e-6 both stand at the optimum (to ~3e-5),
     * which is what any exact solver agrees on. Costs a few more iterations.
     */
    public static final double DEFAULT_TOL = 1e-6;

    /** C = 1, tol = {@link #DEFAULT_TOL}, max_iter = 100, no class weights, no standardisation. */
    public static LogisticProbe create() {
        return builder().build();
    }

    public static final class Builder {
        private double c = 1.0, tol = DEFAULT_TOL;
        private int maxIter = 100;
        private ClassWeight classWeight = ClassWeight.none();
        private boolean standardize, progress;
        private Precondition precondition = Precondition.AUTO;
        private String hook;

        /** Inverse regularisation strength (scikit-learn's C; {@code Double.POSITIVE_INFINITY}: no penalty). */
        public Builder c(double v) {
            if (!(v > 0)) throw new LoupeException("logistic probe: C must be > 0, got " + v);
            c = v;
            return this;
        }

        /** Gradient tolerance (scikit-learn's tol; default {@link #DEFAULT_TOL}). */
        public Builder tol(double v) {
            if (!(v >= 0)) throw new LoupeException("logistic probe: tol must be >= 0, got " + v);
            tol = v;
            return this;
        }

        public Builder maxIter(int v) {
            if (v < 1) throw new LoupeException("logistic probe: max_iter must be >= 1, got " + v);
            maxIter = v;
            return this;
        }

        public Builder classWeight(ClassWeight v) {
            classWeight = v;
            return this;
        }

        /** Standardise features (mean 0, variance 1 over the training rows) before the penalty applies. */
        public Builder standardize(boolean v) {
            standardize = v;
            return this;
        }

        public Builder precondition(Precondition v) {
            precondition = v;
            return this;
        }

        /** The hook point the probe reads (for steering and for probe.json). */
        public Builder hook(String v) {
            hook = v;
            return this;
        }

        /** Show a progress bar of iterations on stderr (long, streamed fits). */
        public Builder progress(boolean v) {
            progress = v;
            return this;
        }

        public LogisticProbe build() {
            return new LogisticProbe(this);
        }
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public LogisticProbe fit(INDArray x, int[] y) {
        return (LogisticProbe) SupervisedProbe.super.fit(x, y);
    }

    @Override
    public LogisticProbe fit(LabeledRows data) {
        if (hook == null) hook = data.rows().hook();
        int[] cls = data.classes();
        String what = data.rows().description();
        if (data.count() == 0) throw new LoupeException(what + ": no labelled rows to fit on");
        if (cls.length < 2)
            throw new LoupeException(
                    what + ": every label is " + cls[0] + "; a classifier needs at least two classes among the labels");
        int d = data.rows().d();
        int[] labels = data.labels();
        int[] classIndex = new int[labels.length];
        long[] counts = new long[cls.length];
        for (int i = 0; i < labels.length; i++) {
            classIndex[i] = data.includes(i) ? java.util.Arrays.binarySearch(cls, labels[i]) : -1;
            if (classIndex[i] >= 0) counts[classIndex[i]]++;
        }
        double[] cw = classWeight.weights(cls, counts);
        int batch = Batching.rows(data.rows(), cls.length);
        int sampleRows = precondition == Precondition.NONE ? 0 : Math.min(8192, Math.max(1024, 4 * d));
        ColumnStats stats = ColumnStats.compute(
                data.rows(), batch, data::includes, data.count(), standardize, sampleRows, classIndex, cls.length);
        INDArray mean = stats.mean();
        INDArray standardMean = standardize ? mean : Nd4j.zeros(DataType.DOUBLE, d);
        INDArray scale = standardize ? standardScale(stats.variance()) : Nd4j.ones(DataType.DOUBLE, d);
        INDArray centre = mean.sub(standardMean).divi(scale);
        // curvature of the loss per row at the start: π(1 − π) per class
        double total = 0;
        for (int k = 0; k < cls.length; k++) total += cw[k] * counts[k];
        double kappa = 0;
        for (int k = 0; k < cls.length; k++) {
            double pi = cw[k] * counts[k] / total;
            kappa += pi * (1 - pi);
        }
        kappa = Math.max(cls.length == 2 ? kappa / 2 : kappa / cls.length, 1e-3);
        double lambda = Double.isInfinite(c) ? 0 : 1.0 / (c * total);
        Preconditioner p = Preconditioner.fromSample(precondition, stats.sample(), scale, null, kappa, lambda);
        Precondition kind = p.kind();
        LogisticObjective objective = new LogisticObjective(
                data.rows(), batch, cls.length, classIndex, cw, c, standardMean, scale, centre, kappa, p);
        objective.useClassSums(stats.classSums()); // the first pass, at W = 0, from the stats pass

        Lbfgs.Result<LogisticObjective.PassInfo> r;
        try (ProgressBar bar =
                progress ? ProgressBar.onStderr("fit " + KIND, 0, maxIter, "iter") : ProgressBar.silent()) {
            int[] done = {0};
            Lbfgs.Listener<LogisticObjective.PassInfo> show = (i, e) ->
                    bar.update(done[0] + i, String.format(Locale.ROOT, "loss %.6f  |g| %.1e", e.f(), e.stopGradient()));
            double[] theta = new double[objective.size()];
            int evaluations = 0;
            // L-BFGS in rounds: after each round that ends short of tol the preconditioner is rebuilt from
            // the curvature at the current point (rounds of 25, 50, 100, ... iterations)
            for (int round = 25; ; round = Math.min(2 * round, 800)) {
                int budget = Math.min(round, maxIter - done[0]);
                r = Lbfgs.minimize(objective, theta, Lbfgs.Options.sklearn(budget, tol), show);
                evaluations += r.evaluations();
                done[0] += r.iterations();
                theta = r.x();
                boolean floatLimited = !objective.doublePrecision()
                        && (r.status() == Lbfgs.Status.LINE_SEARCH_FAILED
                                || r.status() == Lbfgs.Status.RELATIVE_REDUCTION);
                if (floatLimited) {
                    // float32 rounding stopped the search short of tol: go on in double from where it stopped
                    objective.useDoublePrecision();
                    continue;
                }
                if (r.status() != Lbfgs.Status.MAX_ITERATIONS || done[0] >= maxIter) break;
                if (kind != Precondition.NONE) {
                    INDArray curv = objective.curvature(stats.sample(), theta);
                    Preconditioner next = Preconditioner.fromSample(kind, stats.sample(), scale, curv, 0, lambda);
                    theta = objective.reparameterize(
                            theta, next, Math.max(curv.meanNumber().doubleValue(), 1e-6));
                }
            }
            r = new Lbfgs.Result<>(r.x(), r.at(), done[0], evaluations, r.status());
        } finally {
            // the [m, d] sample's and the passes' native memory goes back now, not at some later GC: the
            // next fit's arrays then reuse it instead of faulting in fresh pages (~10-13 µs per 4 KB page
            // on this project's VMs: 25-50 ms of a 0.3 s fit)
            if (stats.sample() != null) stats.sample().close();
            objective.close();
        }
        LogisticObjective.RawWeights raw = objective.raw(objective.coefficients(r.x()));
        if (cls.length == 2) {
            INDArray[] wb = twoClass(raw.w().reshape(d), raw.b().getDouble(0));
            w = wb[0];
            b = wb[1];
        } else {
            w = raw.w().castTo(DataType.FLOAT).dup('c');
            b = raw.b().castTo(DataType.FLOAT);
        }
        classes = cls;
        nIter = r.iterations();
        status = r.status();
        extras.clear();
        if (standardize) {
            extras.put("mean", standardMean.castTo(DataType.FLOAT));
            extras.put("scale", scale.castTo(DataType.FLOAT));
        }
        params.clear();
        params.put("C", c);
        params.put("tol", tol);
        params.put("max_iter", maxIter);
        params.put("class_weight", classWeight.describe());
        params.put("standardize", standardize);
        params.put("precondition", kind.name().toLowerCase(Locale.ROOT));
        params.put("n_iter", nIter);
        params.put("converged", status.converged);
        params.put("objective", r.at().f());
        metrics.clear();
        metrics.put("train_accuracy", r.at().info().accuracy());
        metrics.put("train_log_loss", r.at().info().logLoss());
        return this;
    }

    /** StandardScaler's scale: the standard deviation, 1 for a constant feature. */
    static INDArray standardScale(INDArray variance) {
        double[] sd = Transforms.sqrt(variance, true).toDoubleVector();
        for (int j = 0; j < sd.length; j++) if (!(sd[j] > 0)) sd[j] = 1;
        return Nd4j.createFromArray(sd);
    }

    /** Iterations L-BFGS ran (scikit-learn's {@code n_iter_}). */
    public int nIter() {
        return nIter;
    }

    /** False when the fit stopped at max_iter (or its line search failed) before reaching tol. */
    public boolean converged() {
        return status == null ? Boolean.TRUE.equals(params.get("converged")) : status.converged;
    }

    /** Why L-BFGS stopped (null for a loaded probe). */
    public Lbfgs.Status status() {
        return status;
    }

    /**
     * scikit-learn's {@code coef_}: [1, d] for two classes, [classes, d] for more, acting on the
     * (standardised, with {@code standardize}) features.
     */
    public INDArray coef() {
        requireFitted();
        INDArray raw = classes.length == 2
                ? direction().reshape(1, d())
                : w.transpose().dup('c');
        if (!extras.containsKey("scale")) return raw;
        return raw.mulRowVector(extras.get("scale"));
    }

    /** scikit-learn's {@code intercept_}: [1] for two classes, [classes] for more. */
    public INDArray intercept() {
        requireFitted();
        INDArray raw = classes.length == 2 ? Nd4j.createFromArray(b.getFloat(1) - b.getFloat(0)) : b.dup();
        if (!extras.containsKey("mean")) return raw;
        INDArray shift = extras.get("mean")
                .reshape(1, d())
                .mmul(classes.length == 2 ? direction().reshape(d(), 1) : w);
        return raw.add(shift.reshape(raw.length()));
    }
}
