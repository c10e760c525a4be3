package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Pieces of the residual stream stacked on a first axis, with a label each, as TransformerLens's
 * {@code return_labels=True} returns them: {@code components} is [n, batch, pos, d_model] (or
 * [n, batch, pos] after {@link ResidualStream#logitAttrs}); labels such as {@code 0_pre},
 * {@code final_post}, {@code embed}, {@code 1_attn_out}, {@code L0H3}, {@code remainder}.
 */
public record ComponentStack(INDArray components, List<String> labels) {

    public ComponentStack {
        if (components.size(0) != labels.size())
            throw new IllegalArgumentException(
                    "component stack: " + labels.size() + " labels for " + Arrays.toString(components.shape()));
        labels = List.copyOf(labels);
    }

    /** The component with this label, [batch, pos, ...]. */
    public INDArray get(String label) {
        int i = labels.indexOf(label);
        if (i < 0) throw new LoupeException("component stack: no component '" + label + "'; have " + labels);
        return components.slice(i);
    }

    /** The sum of every component. */
    public INDArray sum() {
        return components.sum(0);
    }

    public int size() {
        return labels.size();
    }
}
