package dev.loupe.probes;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.Map;

/**
 * Weights of each class's rows in a probe's loss, scikit-learn's {@code class_weight}: none (every row
 * weighs 1), {@code balanced} (a class's rows weigh {@code n / (classes × n_class)}, so every class
 * weighs the same in total) or a weight per class label (missing labels weigh 1).
 */
public final class ClassWeight {
    private final boolean balanced;
    private final Map<Integer, Double> byLabel;

    private ClassWeight(boolean balanced, Map<Integer, Double> byLabel) {
        this.balanced = balanced;
        this.byLabel = byLabel;
    }

    public static ClassWeight none() {
        return new ClassWeight(false, Map.of());
    }

    public static ClassWeight balanced() {
        return new ClassWeight(true, Map.of());
    }

    public static ClassWeight of(Map<Integer, Double> byLabel) {
        byLabel.forEach((k, v) -> {
            if (!(v >= 0) || Double.isInfinite(v))
                throw new LoupeException("class weight of label " + k + " must be finite and >= 0, got " + v);
        });
        return new ClassWeight(false, Map.copyOf(byLabel));
    }

    /** The weight of each class, in the order of {@code classes}, given each class's row count. */
    public double[] weights(int[] classes, long[] counts) {
        double[] w = new double[classes.length];
        long n = Arrays.stream(counts).sum();
        for (int k = 0; k < classes.length; k++)
            w[k] = balanced ? (double) n / (classes.length * counts[k]) : byLabel.getOrDefault(classes[k], 1.0);
        return w;
    }

    /** "none", "balanced" or the map, for probe.json. */
    public Object describe() {
        return balanced ? "balanced" : byLabel.isEmpty() ? "none" : byLabel;
    }

    @Override
    public String toString() {
        return String.valueOf(describe());
    }
}
