package dev.loupe.probes.fit;

/** How many rows a pass over a source handles at once. */
public final class Batching {
    private Batching() {}

    /**
     * About 32 MB of float32 rows (a batch's GEMV then reads them from cache the second time), and no
     * more than 2M/k rows so that the [rows, k] score arrays of many-class probes stay small.
     */
    public static int rows(int d, int k) {
        long byFeatures = (1L << 23) / Math.max(d, 1);
        long byScores = (1L << 21) / Math.max(k, 1);
        return (int) Math.max(256, Math.min(Math.min(byFeatures, byScores), 1 << 20));
    }
}
