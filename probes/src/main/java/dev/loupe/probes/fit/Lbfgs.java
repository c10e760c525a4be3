package dev.loupe.probes.fit;

/**
 * Limited-memory BFGS with a strong-Wolfe line search, stopping as SciPy's L-BFGS-B does for an
 * unconstrained problem (what scikit-learn's {@code lbfgs} solver calls): when the largest absolute
 * gradient entry is at most {@code gtol}, when the relative reduction of the objective
 * {@code (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1)} is at most {@code ftol}, or after
 * {@code maxIter} iterations. The first step has length 1/‖g‖ along -g, later steps start at 1.
 *
 * <p>The parameter vector is small (classes × (d + 1)); the passes over the data happen inside the
 * objective, so the optimizer's own vector algebra runs on plain arrays: an ND4J op costs 15–35 µs
 * whatever its size, more than these loops.
 *
 * <p>The objective may be evaluated in a reparameterisation (a preconditioner) while convergence is
 * judged in the caller's parameters: {@link Evaluation#stopGradient} is the largest absolute entry
 * of the gradient there.
 */
public final class Lbfgs {

    /** One evaluation: the objective, its gradient in the optimizer's parameters, the stopping gradient, extras. */
    public record Evaluation<T>(double f, double[] g, double stopGradient, T info) {}

    @FunctionalInterface
    public interface Objective<T> {
        Evaluation<T> evaluate(double[] x);
    }

    /** Why the optimizer stopped. */
    public enum Status {
        /** max |gradient| <= gtol. */
        GRADIENT_TOLERANCE(true),
        /** relative reduction of the objective <= ftol. */
        RELATIVE_REDUCTION(true),
        MAX_ITERATIONS(false),
        /** the line search found no point satisfying the Wolfe conditions (usually at the limit of precision). */
        LINE_SEARCH_FAILED(false);

        public final boolean converged;

        Status(boolean converged) {
            this.converged = converged;
        }
    }

    public record Result<T>(double[] x, Evaluation<T> at, int iterations, int evaluations, Status status) {}

    /**
     * @param memory  corrections kept (SciPy's maxcor, 10)
     * @param maxIter iterations (scikit-learn's max_iter)
     * @param gtol    gradient tolerance (scikit-learn's tol)
     * @param ftol    relative reduction tolerance (scikit-learn passes 64 × machine epsilon)
     * @param maxLineSearch evaluations per line search (scikit-learn passes 50)
     */
    public record Options(int memory, int maxIter, double gtol, double ftol, int maxLineSearch) {
        public static Options sklearn(int maxIter, double tol) {
            return new Options(10, maxIter, tol, 64 * Math.ulp(1.0), 50);
        }
    }

    /** Wolfe constants of SciPy's line search (dcsrch with ftol = 1e-3, gtol = 0.9). */
    private static final double C1 = 1e-3, C2 = 0.9;

    /** Called after each iteration with the iteration number and the accepted evaluation (progress, tests). */
    @FunctionalInterface
    public interface Listener<T> {
        void iteration(int iteration, Evaluation<T> at);
    }

    private Lbfgs() {}

    public static <T> Result<T> minimize(Objective<T> fn, double[] x0, Options o) {
        return minimize(fn, x0, o, (i, e) -> {});
    }

    public static <T> Result<T> minimize(Objective<T> fn, double[] x0, Options o, Listener<T> listener) {
        int n = x0.length;
        double[] x = x0.clone();
        Evaluation<T> cur = fn.evaluate(x);
        int evals = 1;
        if (!Double.isFinite(cur.f()))
            throw new IllegalStateException("objective is not finite at the start: " + cur.f());
        if (cur.stopGradient() <= o.gtol()) return new Result<>(x, cur, 0, evals, Status.GRADIENT_TOLERANCE);
        double[][] s = new double[o.memory()][], y = new double[o.memory()][];
        double[] rho = new double[o.memory()];
        int stored = 0, newest = -1;
        double[] d = new double[n];
        for (int iter = 1; ; iter++) {
            // direction: -H g by the two-loop recursion
            double[] q = cur.g().clone();
            double[] alpha = new double[o.memory()];
            for (int k = 0; k < stored; k++) {
                int i = Math.floorMod(newest - k, o.memory());
                alpha[i] = rho[i] * dot(s[i], q);
                axpy(-alpha[i], y[i], q);
            }
            if (stored > 0) {
                double gamma = dot(s[newest], y[newest]) / dot(y[newest], y[newest]);
                for (int j = 0; j < n; j++) q[j] *= gamma;
            }
            for (int k = stored - 1; k >= 0; k--) {
                int i = Math.floorMod(newest - k, o.memory());
                double beta = rho[i] * dot(y[i], q);
                axpy(alpha[i] - beta, s[i], q);
            }
            for (int j = 0; j < n; j++) d[j] = -q[j];
            double gtd = dot(cur.g(), d);
            if (!(gtd < 0)) { // not a descent direction (rounding): restart from steepest descent
                stored = 0;
                for (int j = 0; j < n; j++) d[j] = -cur.g()[j];
                gtd = dot(cur.g(), d);
            }
            double t = iter == 1 ? Math.min(1.0 / Math.sqrt(dot(d, d)), 1e10) : 1.0;
            LineSearch<T> ls = strongWolfe(fn, x, d, cur, gtd, t, o.maxLineSearch());
            evals += ls.evaluations;
            if (ls.at == null || !(ls.at.f() <= cur.f())) {
                return new Result<>(x, cur, iter - 1, evals, Status.LINE_SEARCH_FAILED);
            }
            double[] xNew = new double[n];
            for (int j = 0; j < n; j++) xNew[j] = x[j] + ls.t * d[j];
            double[] sk = new double[n], yk = new double[n];
            for (int j = 0; j < n; j++) {
                sk[j] = xNew[j] - x[j];
                yk[j] = ls.at.g()[j] - cur.g()[j];
            }
            double fOld = cur.f();
            x = xNew;
            cur = ls.at;
            listener.iteration(iter, cur);
            if (cur.stopGradient() <= o.gtol()) return new Result<>(x, cur, iter, evals, Status.GRADIENT_TOLERANCE);
            if ((fOld - cur.f()) <= o.ftol() * Math.max(Math.max(Math.abs(fOld), Math.abs(cur.f())), 1.0))
                return new Result<>(x, cur, iter, evals, Status.RELATIVE_REDUCTION);
            if (iter >= o.maxIter()) return new Result<>(x, cur, iter, evals, Status.MAX_ITERATIONS);
            double sy = dot(sk, yk);
            if (sy > Math.ulp(1.0) * dot(yk, yk)) { // keep only curvature pairs that keep H positive definite
                newest = (newest + 1) % o.memory();
                s[newest] = sk;
                y[newest] = yk;
                rho[newest] = 1.0 / sy;
                stored = Math.min(stored + 1, o.memory());
            }
        }
    }

    private record LineSearch<T>(double t, Evaluation<T> at, int evaluations) {}

    /**
     * Finds a step t along d satisfying the strong Wolfe conditions (sufficient decrease C1, curvature
     * C2): bracketing with cubic extrapolation, then zooming with safeguarded cubic interpolation
     * (Nocedal and Wright, algorithms 3.5 and 3.6).
     */
    private static <T> LineSearch<T> strongWolfe(
            Objective<T> fn, double[] x, double[] d, Evaluation<T> at0, double gtd0, double t, int maxEvals) {
        double f0 = at0.f();
        double dNorm = 0;
        for (double v : d) dNorm = Math.max(dNorm, Math.abs(v));
        Evaluation<T> cur = evalAt(fn, x, d, t);
        int evals = 1;
        double gtd = dot(cur.g(), d);
        double tPrev = 0, fPrev = f0, gtdPrev = gtd0;
        Evaluation<T> prev = at0;
        double[] bt;
        double[] bf;
        double[] bg;
        @SuppressWarnings("unchecked")
        Evaluation<T>[] be = new Evaluation[2];
        boolean done = false;
        while (true) {
            if (!Double.isFinite(cur.f()) || cur.f() > f0 + C1 * t * gtd0 || (evals > 1 && cur.f() >= fPrev)) {
                bt = new double[] {tPrev, t};
                bf = new double[] {fPrev, cur.f()};
                bg = new double[] {gtdPrev, gtd};
                be[0] = prev;
                be[1] = cur;
                break;
            }
            if (Math.abs(gtd) <= -C2 * gtd0) return new LineSearch<>(t, cur, evals);
            if (gtd >= 0) {
                bt = new double[] {tPrev, t};
                bf = new double[] {fPrev, cur.f()};
                bg = new double[] {gtdPrev, gtd};
                be[0] = prev;
                be[1] = cur;
                break;
            }
            if (evals >= maxEvals) return new LineSearch<>(t, cur, evals);
            double minStep = t + 0.01 * (t - tPrev), maxStep = t * 10;
            double tNext = cubicMinimum(tPrev, fPrev, gtdPrev, t, cur.f(), gtd, minStep, maxStep);
            tPrev = t;
            fPrev = cur.f();
            gtdPrev = gtd;
            prev = cur;
            t = tNext;
            cur = evalAt(fn, x, d, t);
            evals++;
            gtd = dot(cur.g(), d);
        }
        // zoom: bt[low] has the lowest objective so far
        int low = bf[0] <= bf[1] ? 0 : 1, high = 1 - low;
        boolean insufficientProgress = false;
        while (!done && evals < maxEvals) {
            if (Math.abs(bt[1] - bt[0]) * dNorm < 1e-12) break;
            double lo = Math.min(bt[0], bt[1]), hi = Math.max(bt[0], bt[1]);
            double tz = Double.isFinite(bf[0]) && Double.isFinite(bf[1])
                    ? cubicMinimum(bt[0], bf[0], bg[0], bt[1], bf[1], bg[1], lo, hi)
                    : (lo + hi) / 2;
            double eps = 0.1 * (hi - lo);
            if (Math.min(hi - tz, tz - lo) < eps) {
                if (insufficientProgress || tz >= hi || tz <= lo) {
                    tz = Math.abs(tz - hi) < Math.abs(tz - lo) ? hi - eps : lo + eps;
                    insufficientProgress = false;
                } else insufficientProgress = true;
            } else insufficientProgress = false;
            Evaluation<T> e = evalAt(fn, x, d, tz);
            evals++;
            double g = dot(e.g(), d);
            if (!Double.isFinite(e.f()) || e.f() > f0 + C1 * tz * gtd0 || e.f() >= bf[low]) {
                bt[high] = tz;
                bf[high] = e.f();
                bg[high] = g;
                be[high] = e;
            } else {
                if (Math.abs(g) <= -C2 * gtd0) done = true;
                else if (g * (bt[high] - bt[low]) >= 0) {
                    bt[high] = bt[low];
                    bf[high] = bf[low];
                    bg[high] = bg[low];
                    be[high] = be[low];
                }
                bt[low] = tz;
                bf[low] = e.f();
                bg[low] = g;
                be[low] = e;
            }
            low = bf[0] <= bf[1] ? 0 : 1;
            high = 1 - low;
        }
        if (bt[low] == 0) return new LineSearch<>(0, null, evals); // no decrease found
        return new LineSearch<>(bt[low], be[low], evals);
    }

    private static <T> Evaluation<T> evalAt(Objective<T> fn, double[] x, double[] d, double t) {
        double[] xt = new double[x.length];
        for (int j = 0; j < x.length; j++) xt[j] = x[j] + t * d[j];
        return fn.evaluate(xt);
    }

    /** The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi]. */
    static double cubicMinimum(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double d2sq = d1 * d1 - g1 * g2;
        if (d2sq >= 0) {
            double d2 = Math.sqrt(d2sq);
            double m = x1 <= x2
                    ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
            if (Double.isFinite(m)) return Math.min(Math.max(m, lo), hi);
        }
        return (lo + hi) / 2;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static void axpy(double a, double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) y[i] += a * x[i];
    }
}
