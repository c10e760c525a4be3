package dev.loupe.engine.model;

import dev.loupe.engine.autograd.Tensor;

/**
 * A scalar function of a differentiable run, built from {@link Tensor} ops: the thing whose
 * gradient {@link HookedTransformer#forward} computes. For example the loss,
 * {@code out -> Losses.nextToken(out.logits(), tokens)}, or one neuron,
 * {@code out -> out.activation("blocks.1.mlp.hook_post").sliceLast(7, 8).sum()}.
 */
@FunctionalInterface
public interface Objective {
    Tensor apply(ForwardOutputs outputs);

    /** What an objective can read: the logits and every hook point of the run. */
    interface ForwardOutputs {
        /** [batch, pos, d_vocab]; null when the run stopped early. */
        Tensor logits();

        /** The residual stream where the run stopped; null when it ran to the end. */
        Tensor residual();

        /** The activation at a hook point (full or compact name). */
        Tensor activation(String name);
    }
}
