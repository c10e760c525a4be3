package dev.loupe.saes.train;

/**
 * Which latents fire, as SAELens's trainer tracks it: steps since each latent last fired (a latent
 * silent for more than the dead-feature window is dead) and firing counts over the current
 * feature-sampling window (densities). Plain arrays: d_sae numbers, updated once per step.
 */
public final class LatentStats {
    private final double[] sinceFired; // steps since each latent last fired
    private final double[] fired; // rows on which each latent fired, this sampling window
    private long rowsSeen; // rows this sampling window

    public LatentStats(int dSae) {
        sinceFired = new double[dSae];
        fired = new double[dSae];
    }

    /** After a step on {@code rows} rows in which latent f fired on {@code firedRows[f]} rows. */
    public void update(float[] firedRows, int rows) {
        for (int f = 0; f < sinceFired.length; f++) {
            sinceFired[f] = firedRows[f] > 0 ? 0 : sinceFired[f] + 1;
            fired[f] += firedRows[f];
        }
        rowsSeen += rows;
    }

    /** Starts a new sampling window (SAELens resets at steps where {@code (step + 1) % window == 0}). */
    public void resetWindow() {
        java.util.Arrays.fill(fired, 0);
        rowsSeen = 0;
    }

    /** SAELens's {@code dead_neurons}: not fired for more than {@code window} steps. */
    public boolean[] dead(int window) {
        boolean[] d = new boolean[sinceFired.length];
        for (int f = 0; f < d.length; f++) d[f] = sinceFired[f] > window;
        return d;
    }

    public double deadFraction(int window) {
        int n = 0;
        for (double s : sinceFired) if (s > window) n++;
        return n / (double) sinceFired.length;
    }

    /** Per latent, the fraction of this window's rows on which it fired (SAELens's {@code feature_sparsity}). */
    public double[] density() {
        double[] d = new double[fired.length];
        for (int f = 0; f < d.length; f++) d[f] = rowsSeen == 0 ? 0 : fired[f] / rowsSeen;
        return d;
    }

    public double denseFraction(double threshold) {
        int n = 0;
        for (double d : density()) if (d > threshold) n++;
        return n / (double) fired.length;
    }

    public double[] sinceFired() {
        return sinceFired.clone();
    }

    public double[] firedCounts() {
        return fired.clone();
    }

    public long rowsSeen() {
        return rowsSeen;
    }

    public void restore(double[] since, double[] firedCounts, long rows) {
        System.arraycopy(since, 0, sinceFired, 0, sinceFired.length);
        System.arraycopy(firedCounts, 0, fired, 0, fired.length);
        rowsSeen = rows;
    }
}
