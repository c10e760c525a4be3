package dev.loupe.engine.hooks;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Sees the gradient of the objective with respect to a hook point's activation during the
 * backward pass. Return null (or the same array) to pass it on unchanged, or a replacement of the
 * same shape to send upstream instead.
 */
@FunctionalInterface
public interface BackwardHook {
    INDArray apply(INDArray gradient, HookPoint hook);
}
