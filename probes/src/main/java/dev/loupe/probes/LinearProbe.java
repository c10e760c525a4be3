package dev.loupe.probes;

import dev.loupe.engine.LoupeException;
import dev.loupe.probes.metrics.Metrics;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What every probe kind shares once fitted: W [d, k], b [k], the classes, the hook, the parameters and
 * metrics saved with it, and prediction. Class probabilities are the softmax of {@code x W + b} over
 * the classes, computed in double; a two-class probe stores {@code W = [−w/2, w/2]},
 * {@code b = [−c/2, c/2]}, whose softmax is exactly σ(x·w + c).
 */
public abstract class LinearProbe implements Probe {
    protected String hook;
    protected int[] classes;
    protected INDArray w, b;
    /** Tensors saved beside W and b (mean, scale, direction). */
    protected final Map<String, INDArray> extras = new LinkedHashMap<>();
    /** Fit parameters saved in probe.json ("C", "standardize", ...). */
    protected final Map<String, Object> params = new LinkedHashMap<>();

    protected final Map<String, Double> metrics = new LinkedHashMap<>();

    /** The folder contents every kind is saved as and restored from. */
    public record State(
            String kind,
            String hook,
            int d,
            int[] classes,
            INDArray w,
            INDArray b,
            Map<String, INDArray> extras,
            Map<String, Object> params,
            Map<String, Double> metrics) {}

    protected LinearProbe(String hook) {
        this.hook = hook;
    }

    protected LinearProbe(State s) {
        this.hook = s.hook();
        this.classes = s.classes();
        this.w = s.w();
        this.b = s.b();
        this.extras.putAll(s.extras());
        this.params.putAll(s.params());
        this.metrics.putAll(s.metrics());
    }

    public State state() {
        requireFitted();
        return new State(
                kind(),
                hook,
                d(),
                classes,
                w,
                b,
                Collections.unmodifiableMap(extras),
                Collections.unmodifiableMap(params),
                Collections.unmodifiableMap(metrics));
    }

    @Override
    public String hook() {
        return hook;
    }

    @Override
    public int d() {
        requireFitted();
        return (int) w.size(0);
    }

    @Override
    public int[] classes() {
        return classes == null ? null : classes.clone();
    }

    @Override
    public INDArray weights() {
        requireFitted();
        return w;
    }

    @Override
    public INDArray bias() {
        requireFitted();
        return b;
    }

    /** The parameters saved with the probe. */
    public Map<String, Object> params() {
        return Collections.unmodifiableMap(params);
    }

    @Override
    public Map<String, Double> metrics() {
        return Collections.unmodifiableMap(metrics);
    }

    @Override
    public void putMetric(String name, double value) {
        metrics.put(name, value);
    }

    public boolean fitted() {
        return w != null;
    }

    protected void requireFitted() {
        if (w == null) throw new LoupeException(kind() + " probe: call fit(...) first");
    }

    /** Checks that x is [n, d] with the probe's d, naming {@code what}. */
    protected INDArray checkInput(INDArray x, String what) {
        requireFitted();
        if (x == null) throw new LoupeException(kind() + " probe: " + what + " is null");
        if (x.rank() != 2 || x.size(1) != w.size(0))
            throw new LoupeException(kind() + " probe: " + what + " has shape " + Arrays.toString(x.shape())
                    + "; expected [n, " + w.size(0) + "]");
        return x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
    }

    @Override
    public INDArray decisionFunction(INDArray x) {
        INDArray xf = checkInput(x, "x");
        INDArray z = Nd4j.createUninitialized(DataType.FLOAT, new long[] {xf.size(0), w.size(1)}, 'f');
        Nd4j.gemm(xf, w, z, false, false, 1.0, 0.0);
        return z.addiRowVector(b).dup('c');
    }

    @Override
    public INDArray predictProba(INDArray x) {
        if (classes == null)
            throw new LoupeException(kind() + " probe predicts values, not class probabilities; use predict");
        return Metrics.softmax(decisionFunction(x).castTo(DataType.DOUBLE)).castTo(DataType.FLOAT);
    }

    @Override
    public INDArray predict(INDArray x) {
        INDArray idx = decisionFunction(x).argMax(1);
        long[] i = idx.toLongVector();
        int[] out = new int[i.length];
        for (int r = 0; r < i.length; r++) out[r] = classes[(int) i[r]];
        return Nd4j.createFromArray(out);
    }

    @Override
    public double score(INDArray x, int[] y) {
        int[] predicted = predict(x).toIntVector();
        if (y.length != predicted.length)
            throw new LoupeException(
                    kind() + " probe: x has " + predicted.length + " rows but there are " + y.length + " labels");
        return Metrics.accuracy(y, predicted);
    }

    /** The column of class {@code label} minus the mean column: the direction that raises that class's score. */
    public INDArray direction(int label) {
        requireFitted();
        int k = classes == null ? -1 : Arrays.binarySearch(classes, label);
        if (k < 0)
            throw new LoupeException(
                    kind() + " probe: no class " + label + "; classes are " + Arrays.toString(classes));
        return w.getColumn(k).sub(w.mean(1)).castTo(DataType.FLOAT);
    }

    @Override
    public INDArray direction() {
        requireFitted();
        if (extras.containsKey("direction")) return extras.get("direction");
        if (w.size(1) != 2)
            throw new LoupeException(kind() + " probe has " + w.size(1) + " classes; use direction(classLabel)");
        return w.getColumn(1).sub(w.getColumn(0)).castTo(DataType.FLOAT);
    }

    @Override
    public void save(Path dir) {
        ProbeFolder.save(state(), dir);
    }

    /** W and b of a two-class probe from one logit z = x·w + c: [−w/2, w/2] and [−c/2, c/2]. */
    protected static INDArray[] twoClass(INDArray wVec, double c) {
        INDArray col = wVec.castTo(DataType.FLOAT).reshape(wVec.length(), 1).mul(0.5);
        return new INDArray[] {
            Nd4j.hstack(col.neg(), col).castTo(DataType.FLOAT), Nd4j.createFromArray((float) (-c / 2), (float) (c / 2))
        };
    }

    @Override
    public String toString() {
        return kind() + " probe" + (hook != null ? " on " + hook : "")
                + (fitted()
                        ? " [d=" + d() + (classes != null ? ", classes=" + Arrays.toString(classes) : "") + "]"
                        : " (not fitted)")
                + (metrics.isEmpty() ? "" : " " + metrics);
    }
}
