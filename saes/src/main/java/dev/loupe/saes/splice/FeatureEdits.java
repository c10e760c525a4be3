package dev.loupe.saes.splice;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ForwardHook;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.saes.Sae;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Interventions on SAE features: hooks for {@code <hook>.hook_sae_acts_post} (ablate, clamp, scale
 * features of a spliced SAE) and a model hook that steers with a feature's decoder direction.
 */
public final class FeatureEdits {
    private FeatureEdits() {}

    /** Sets the listed features to 0 (a hook for {@code hook_sae_acts_post}). */
    public static ForwardHook ablate(int... features) {
        return (acts, hook) -> {
            INDArray out = acts.dup();
            for (int f : features) column(out, f, hook.name()).assign(0);
            return out;
        };
    }

    /** Sets feature {@code f} to {@code value} at every position (SAELens/Neuronpedia-style clamping). */
    public static ForwardHook clamp(int f, double value) {
        return (acts, hook) -> {
            INDArray out = acts.dup();
            column(out, f, hook.name()).assign(value);
            return out;
        };
    }

    /** Multiplies feature {@code f} by {@code factor}. */
    public static ForwardHook scale(int f, double factor) {
        return (acts, hook) -> {
            INDArray out = acts.dup();
            column(out, f, hook.name()).muli(factor);
            return out;
        };
    }

    private static INDArray column(INDArray acts, int f, String where) {
        long width = acts.size(acts.rank() - 1);
        if (f < 0 || f >= width) throw new LoupeException(where + ": feature " + f + " is outside [0, " + width + ")");
        org.nd4j.linalg.indexing.INDArrayIndex[] at = new org.nd4j.linalg.indexing.INDArrayIndex[acts.rank()];
        for (int i = 0; i < at.length - 1; i++) at[i] = NDArrayIndex.all();
        at[at.length - 1] = NDArrayIndex.point(f);
        return acts.get(at);
    }

    /**
     * A model hook at the SAE's hook that adds {@code coefficient · W_dec[f]} to the activation at every
     * position (steering with a feature, as Neuronpedia does); works on the plain model, with or without
     * the SAE spliced, and during generation.
     */
    public static Hook steer(Sae sae, int f, double coefficient) {
        return steer(sae, f, coefficient, null);
    }

    /**
     * As {@link #steer(Sae, int, double)}, at these positions only (of every sequence of the batch; negative
     * positions count from the end, -1 is the last).
     */
    public static Hook steer(Sae sae, int f, double coefficient, int[] positions) {
        String hook = sae.config().hookName();
        if (hook == null)
            throw new LoupeException("SAE (" + sae.config().describe() + ") has no hook_name in its config");
        if (f < 0 || f >= sae.config().dSae())
            throw new LoupeException("feature " + f + " is outside [0, "
                    + sae.config().dSae() + ") of " + sae.config().describe());
        INDArray direction = sae.W_dec().getRow(f).mul(coefficient); // [d_in]
        return Hook.forward(hook, (act, point) -> {
            INDArray d = direction.castTo(act.dataType());
            if (positions == null)
                return act.reshape('c', act.length() / d.length(), d.length())
                        .addRowVector(d)
                        .reshape('c', act.shape());
            if (act.rank() != 3)
                throw new LoupeException(point.name()
                        + ": steering at positions needs [batch, pos, d] activations, got rank " + act.rank());
            INDArray out = act.dup();
            long len = act.size(1);
            for (int p : positions) {
                long at = p < 0 ? len + p : p;
                if (at < 0 || at >= len)
                    throw new LoupeException(
                            point.name() + ": position " + p + " is outside the " + len + " positions");
                out.get(NDArrayIndex.all(), NDArrayIndex.point(at), NDArrayIndex.all())
                        .addiRowVector(d);
            }
            return out;
        });
    }
}
