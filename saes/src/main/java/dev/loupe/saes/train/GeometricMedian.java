package dev.loupe.saes.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The geometric median of points [n, d] by Weiszfeld's iterations, as SAELens's
 * {@code compute_geometric_median} (from its mean, weights {@code 1 / max(||p - median||, eps)}, at most
 * 100 iterations, stopping when the objective improves by less than {@code ftol} of itself), in double.
 */
public final class GeometricMedian {
    private GeometricMedian() {}

    /** [d] float32. */
    public static INDArray of(INDArray points) {
        return of(points, 1e-6, 100, 1e-20);
    }

    public static INDArray of(INDArray points, double eps, int maxIter, double ftol) {
        INDArray p = points.castTo(DataType.DOUBLE);
        long n = p.size(0);
        INDArray median = p.mean(0); // the weighted average with unit weights
        double objective = distances(p, median).sumNumber().doubleValue();
        for (int i = 0; i < maxIter; i++) {
            double previous = objective;
            INDArray w =
                    Transforms.max(distances(p, median), eps, false).rdivi(1.0).reshape(n, 1);
            median = p.mulColumnVector(w).sum(0).divi(w.sumNumber().doubleValue());
            objective = distances(p, median).sumNumber().doubleValue();
            if (Math.abs(previous - objective) <= ftol * objective) break;
        }
        return median.castTo(DataType.FLOAT);
    }

    private static INDArray distances(INDArray p, INDArray median) {
        return p.subRowVector(median).norm2(1);
    }
}
