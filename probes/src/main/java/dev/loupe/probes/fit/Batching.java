package dev.loupe.probes.fit;

import dev.loupe.probes.data.RowSource;

/** How many rows a pass over a source handles at once. */
public final class Batching {
    private Batching() {}

    /**
     * Rows per batch for a pass over {@code source} with {@code k} scores per row. Rows in memory are
     * views, so there is no copy to bound, only the [rows, k] double temporaries (at most 32 MB): one
     * batch for the whole array saves the per-batch op overheads (35 vs 55-70 ms per pass on
     * [100000, 768]). Streamed sources get {@link #rows(int, int)}.
     */
    public static int rows(RowSource source, int k) {
        if (source.inMemory()) return (int) Math.max(256, Math.min(source.rows(), (1L << 22) / Math.max(k, 1)));
        return rows(source.d(), k);
    }

    /**
     * Rows per batch for streamed sources: about 32 MB of float32 rows (a batch's GEMV then reads them
     * from cache the second time), and no more than 2M/k rows so that the [rows, k] score arrays of
     * many-class probes stay small.
     */
    public static int rows(int d, int k) {
        long byFeatures = (1L << 23) / Math.max(d, 1);
        long byScores = (1L << 21) / Math.max(k, 1);
        return (int) Math.max(256, Math.min(Math.min(byFeatures, byScores), 1 << 20));
    }
}
