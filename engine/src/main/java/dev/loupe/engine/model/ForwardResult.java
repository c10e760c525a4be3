package dev.loupe.engine.model;

import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.hooks.ActivationCache;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a forward pass returns: its output, the activations its filter kept, and what a
 * differentiated pass computed. {@link #close()} frees the memory these hold now rather than at
 * garbage collection.
 */
public final class ForwardResult implements AutoCloseable {
    private final INDArray logits, residual;
    private final ActivationCache cache;
    private final double objective;
    private final Map<String, INDArray> weightGrads;
    private final INDArray outputMemory; // what close() frees: the array holding the output's memory, or null

    ForwardResult(
            INDArray logits,
            INDArray residual,
            ActivationCache cache,
            double objective,
            Map<String, INDArray> weightGrads,
            INDArray outputMemory) {
        this.logits = logits;
        this.residual = residual;
        this.cache = cache;
        this.objective = objective;
        this.weightGrads = weightGrads;
        this.outputMemory = outputMemory;
    }

    /** [batch, pos, d_vocab]; null when the pass stopped early. */
    public INDArray logits() {
        return logits;
    }

    /** [batch, pos, d_model] where the pass stopped; null when it ran to the end. */
    public INDArray residual() {
        return residual;
    }

    /** The activations the request's filter kept (and, for a differentiated pass, their gradients). */
    public ActivationCache cache() {
        return cache;
    }

    /** The value of the differentiated objective, or NaN. */
    public double objective() {
        return objective;
    }

    /** Gradient of the objective for every weight, TransformerLens names and shapes; empty without an objective. */
    public Map<String, INDArray> weightGrads() {
        return weightGrads;
    }

    /**
     * Frees the logits (or residual) and the cached activations now rather than at garbage
     * collection: for loops over many batches, where off-heap memory would otherwise pile up.
     * Nothing taken from this result may be used afterwards.
     */
    @Override
    public void close() {
        cache.close();
        Graph.recycle(outputMemory);
    }
}
