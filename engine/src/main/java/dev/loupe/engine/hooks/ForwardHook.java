package dev.loupe.engine.hooks;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Sees an activation during the forward pass and may change it, as a TransformerLens hook does:
 * <ul>
 *   <li>edit it in place and return null (or the same array): {@code z.get(all(), all(), point(1),
 *       all()).assign(0)}; the edit acts downstream. In a differentiated pass the engine handed the
 *       hook a copy (the tape keeps the original) and the edited elements are constants for the
 *       backward pass, as after an assignment in PyTorch; the others pass their gradient;</li>
 *   <li>return an array of the same shape and dtype to replace it downstream: ablation, patching,
 *       steering. A replacement is a constant for the backward pass (gradients stop at it), as a
 *       value patched in from another run should be;</li>
 *   <li>return null without editing to only look (keeping the array is allowed).</li>
 * </ul>
 */
@FunctionalInterface
public interface ForwardHook {
    INDArray apply(INDArray activation, HookPoint hook);
}
