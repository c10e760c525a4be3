package dev.loupe.engine.hooks;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Sees an activation during the forward pass. Return null (or the same array) to leave it as it
 * is, or an array of the same shape and dtype to replace it downstream: ablation, patching,
 * steering. A replacement is a constant for the backward pass (gradients stop at it), as a value
 * patched in from another run should be.
 */
@FunctionalInterface
public interface ForwardHook {
    INDArray apply(INDArray activation, HookPoint hook);
}
