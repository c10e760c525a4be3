package dev.loupe.engine.analysis;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * TransformerLens's {@code patch_setter}: copies the patched part of the clean activation into the
 * corrupted one, in place. {@code index} is the patch's index tuple, layer first ({@code [layer,
 * pos]}, {@code [layer, head]}, ...). Both arrays have the activation's shape with the batch of one
 * patch's prompts first; {@code corrupted} is a view into the batched run, so write into it (as
 * TransformerLens's setters do) rather than returning a new array.
 */
@FunctionalInterface
public interface PatchSetter {
    void patch(INDArray corrupted, int[] index, INDArray clean);

    /** {@code [layer, pos]}: {@code corrupted[:, pos] = clean[:, pos]} ({@code layer_pos_patch_setter}). */
    PatchSetter LAYER_POS = (c, i, k) -> c.get(all(), point(i[1])).assign(k.get(all(), point(i[1])));

    /** {@code [layer, pos, head]} of q/k/v/z/result ({@code layer_pos_head_vector_patch_setter}). */
    PatchSetter LAYER_POS_HEAD_VECTOR =
            (c, i, k) -> c.get(all(), point(i[1]), point(i[2])).assign(k.get(all(), point(i[1]), point(i[2])));

    /** {@code [layer, head]} of q/k/v/z/result at every position ({@code layer_head_vector_patch_setter}). */
    PatchSetter LAYER_HEAD_VECTOR =
            (c, i, k) -> c.get(all(), all(), point(i[1])).assign(k.get(all(), all(), point(i[1])));

    /** {@code [layer, head]} of a pattern or scores {@code [batch, head, dest, src]} ({@code layer_head_pattern_patch_setter}). */
    PatchSetter LAYER_HEAD_PATTERN = (c, i, k) -> c.get(all(), point(i[1])).assign(k.get(all(), point(i[1])));

    /** {@code [layer, head, dest_pos]} of a pattern ({@code layer_head_pos_pattern_patch_setter}). */
    PatchSetter LAYER_HEAD_POS_PATTERN =
            (c, i, k) -> c.get(all(), point(i[1]), point(i[2])).assign(k.get(all(), point(i[1]), point(i[2])));

    /** {@code [layer, head, dest_pos, src_pos]} of a pattern ({@code layer_head_dest_src_pos_pattern_patch_setter}). */
    PatchSetter LAYER_HEAD_DEST_SRC_POS_PATTERN = (c, i, k) -> c.get(all(), point(i[1]), point(i[2]), point(i[3]))
            .assign(k.get(all(), point(i[1]), point(i[2]), point(i[3])));
}
