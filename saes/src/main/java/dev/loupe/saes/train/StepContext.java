package dev.loupe.saes.train;

/**
 * What a training step needs besides the batch.
 *
 * @param step the step's index (0-based)
 * @param l1   the L1 coefficient of this step (after warm-up)
 * @param l0   the L0 coefficient of this step (after warm-up)
 * @param dead latents that have not fired for more than the dead-feature window (SAELens's {@code dead_neuron_mask}); may be null
 */
public record StepContext(int step, double l1, double l0, boolean[] dead) {
    /** Indices of the dead latents. */
    public int[] deadLatents() {
        if (dead == null) return new int[0];
        int n = 0;
        for (boolean b : dead) if (b) n++;
        int[] out = new int[n];
        for (int i = 0, j = 0; i < dead.length; i++) if (dead[i]) out[j++] = i;
        return out;
    }
}
