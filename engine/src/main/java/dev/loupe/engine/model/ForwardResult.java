package dev.loupe.engine.model;

import dev.loupe.engine.hooks.ActivationCache;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a forward pass returns.
 *
 * @param logits         [batch, pos, d_vocab]; null when the pass stopped early
 * @param residual       [batch, pos, d_model] where the pass stopped; null when it ran to the end
 * @param cache          the activations the request's filter kept (and their gradients)
 * @param objective      the value of the differentiated objective, or NaN
 * @param weightGrads    gradient of the objective for every weight, TransformerLens names and shapes; empty without an objective
 * @param outputOwner    the array holding the logits' (or residual's) memory when this result may free it, else null
 */
public record ForwardResult(
        INDArray logits,
        INDArray residual,
        ActivationCache cache,
        double objective,
        Map<String, INDArray> weightGrads,
        INDArray outputOwner)
        implements AutoCloseable {

    /**
     * Frees the logits (or residual) and the cached activations now rather than at garbage
     * collection: for loops over many batches, where off-heap memory would otherwise pile up.
     * Nothing taken from this result may be used afterwards.
     */
    @Override
    public void close() {
        cache.close();
        dev.loupe.engine.autograd.Graph.recycle(outputOwner);
    }
}
