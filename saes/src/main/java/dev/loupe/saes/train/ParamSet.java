package dev.loupe.saes.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A training SAE's parameters and their gradients, each in one flat float32 buffer whose regions are
 * the named tensors (views, c order). One buffer makes Adam, the gradient norm and clipping a few ND4J
 * ops for all parameters together.
 *
 * <p>Shapes are the storage layouts the kernels want: the encoder is stored as {@code W_enc^T}
 * [d_sae, d_in] so that one latent's encoder direction is a contiguous row, like its decoder row.
 */
public final class ParamSet {
    private final INDArray values, grads;
    private final Map<String, INDArray> valueViews = new LinkedHashMap<>(), gradViews = new LinkedHashMap<>();
    private final Map<String, long[]> shapes;

    /** Parameters of these names and shapes (in this order), all zero. */
    public ParamSet(Map<String, long[]> shapes) {
        this.shapes = new LinkedHashMap<>(shapes);
        long n = 0;
        for (long[] s : shapes.values()) n += length(s);
        values = Nd4j.zeros(DataType.FLOAT, n);
        grads = Nd4j.zeros(DataType.FLOAT, n);
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long len = length(e.getValue());
            valueViews.put(e.getKey(), region(values, offset, len, e.getValue()));
            gradViews.put(e.getKey(), region(grads, offset, len, e.getValue()));
            offset += len;
        }
    }

    private static INDArray region(INDArray flat, long offset, long len, long[] shape) {
        return flat.get(NDArrayIndex.interval(offset, offset + len)).reshape('c', shape);
    }

    private static long length(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** The named parameter (a view of the flat buffer). */
    public INDArray get(String name) {
        INDArray v = valueViews.get(name);
        if (v == null) throw new IllegalArgumentException("no parameter " + name + " in " + valueViews.keySet());
        return v;
    }

    /** The named parameter's gradient (a view of the flat gradient buffer). */
    public INDArray grad(String name) {
        INDArray g = gradViews.get(name);
        if (g == null) throw new IllegalArgumentException("no parameter " + name + " in " + gradViews.keySet());
        return g;
    }

    public Map<String, long[]> shapes() {
        return shapes;
    }

    /** All values, flat [n]. */
    public INDArray values() {
        return values;
    }

    /** All gradients, flat [n]. */
    public INDArray grads() {
        return grads;
    }

    public Map<String, INDArray> views() {
        return java.util.Collections.unmodifiableMap(valueViews);
    }
}
