package dev.loupe.engine.train;

import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.updaters.AdamUpdater;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * AdamW as PyTorch's {@code torch.optim.AdamW} computes it, over every parameter of a model at once.
 *
 * <p>All parameters live in one flat buffer and the model's weights are views of it: the update
 * is then a dozen ND4J ops for the whole model instead of a dozen per tensor (each op costs
 * ~20 µs of JNI overhead, which for a small model is more than the arithmetic).
 */
public final class AdamW {
    private final ModelConfig config;
    private final Map<String, long[]> spans = new LinkedHashMap<>(); // name -> {offset, length} in the flat buffers
    private final INDArray params; // [n]
    private final INDArray grads; // [n]
    private final INDArray m, v; // [n] first and second moments
    private final INDArray decayedParams; // the front of params: the weights that decay; null if none
    private final Weights weights;
    private int step;

    /** Copies {@code source}'s weights into the flat buffer; train {@link #weights()} afterwards. */
    public AdamW(ModelConfig config, Weights source) {
        this.config = config;
        long n = 0;
        for (String name : source.names()) n += source.get(name).length();
        DataType type = Weights.dataType(config);
        params = Nd4j.create(type, n);
        grads = Nd4j.create(type, n);
        m = Nd4j.zeros(type, n);
        v = Nd4j.zeros(type, n);
        // Matrices and embeddings (the weights that decay) first, so that weight decay is one
        // multiply of the front of the buffer: a 0/1 mask over all of it took three ops.
        long offset = 0, decaying = 0;
        for (boolean decays : new boolean[] {true, false})
            for (String name : source.names()) {
                long len = source.get(name).length();
                if ((source.get(name).rank() >= 2) != decays) continue;
                spans.put(name, new long[] {offset, len});
                offset += len;
                if (decays) decaying = offset;
            }
        decayedParams = decaying == 0 ? null : params.get(NDArrayIndex.interval(0, decaying));
        Map<String, INDArray> views = new LinkedHashMap<>();
        for (String name : source.names()) {
            INDArray w = source.get(name), region = region(params, name);
            region.assign(w.reshape('c', new long[] {w.length()}));
            views.put(name, region.reshape('c', w.shape()));
        }
        weights = new Weights(views);
    }

    /** The weights being trained (views of this optimizer's buffer, in the compute layout). */
    public Weights weights() {
        return weights;
    }

    /** Steps taken so far. */
    public int stepCount() {
        return step;
    }

    /**
     * Copies this step's gradients in (TransformerLens names and shapes, as
     * {@link dev.loupe.engine.model.ForwardResult#weightGrads()} gives them) and returns their
     * global L2 norm, before any clipping.
     */
    public double loadGradients(Map<String, INDArray> weightGrads) {
        addGradients(0, weightGrads);
        return gradientNorm();
    }

    /**
     * Loads the gradients of one shard of this step's batch: shard 0's are copied in, later shards'
     * added. Call in shard order, one shard at a time, then {@link #gradientNorm}.
     */
    public void addGradients(int shard, Map<String, INDArray> weightGrads) {
        for (String name : spans.keySet()) {
            INDArray g = weightGrads.get(name);
            if (g == null) throw new IllegalStateException("no gradient for weight " + name);
            INDArray target = Weights.toTransformerLensLayout(
                    name, region(grads, name).reshape('c', weights.get(name).shape()), config);
            if (shard == 0) target.assign(g);
            else target.addi(g);
        }
    }

    /** The global L2 norm of the loaded gradients, before any clipping. */
    public double gradientNorm() {
        return grads.norm2Number().doubleValue();
    }

    /** One AdamW step with learning rate {@code lr}, after scaling the loaded gradients by {@code gradScale}. */
    public void update(double lr, double gradScale, TrainingConfig c) {
        step++;
        if (gradScale != 1) grads.muli(gradScale);
        if (c.weightDecay() > 0 && decayedParams != null) decayedParams.muli(1 - lr * c.weightDecay());
        // ND4J's Adam kernel updates m and v and turns the gradients into the step in one pass:
        // lr sqrt(bc2) / bc1 * m / (sqrt(v) + eps'), with bias corrections bc = 1 - beta^step. With
        // eps' = eps sqrt(bc2) that is torch's lr / bc1 * m / (sqrt(v / bc2) + eps). (A dozen separate
        // ops took 3% of a training step.)
        double bc2 = 1 - Math.pow(c.beta2(), step);
        Nd4j.exec(new AdamUpdater(grads, v, m, lr, c.beta1(), c.beta2(), c.eps() * Math.sqrt(bc2), step - 1));
        params.subi(grads); // grads are spent after this
    }

    /** The optimizer state to checkpoint: first and second moments per weight (compute layout, flat). */
    public Map<String, INDArray> state() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String name : spans.keySet()) {
            out.put("m." + name, region(m, name));
            out.put("v." + name, region(v, name));
        }
        return out;
    }

    /** Restores {@link #state()} and the step count from a checkpoint. */
    public void restore(Map<String, INDArray> state, int steps) {
        for (String name : spans.keySet()) {
            for (String moment : new String[] {"m", "v"}) {
                INDArray saved = state.get(moment + "." + name);
                long len = spans.get(name)[1];
                if (saved == null || saved.length() != len)
                    throw new IllegalArgumentException(
                            "optimizer state lacks " + moment + "." + name + " of " + len + " values");
                region(moment.equals("m") ? m : v, name).assign(saved.reshape('c', new long[] {len}));
            }
        }
        step = steps;
    }

    private INDArray region(INDArray flat, String name) {
        long[] span = spans.get(name);
        return flat.get(NDArrayIndex.interval(span[0], span[0] + span[1]));
    }
}
