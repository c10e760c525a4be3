package dev.loupe.spark.stats;

import dev.loupe.store.NativeBytes;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per-feature totals over some rows, and their merge: how many rows, how often each feature fired,
 * the sum and maximum of its activations where it fired, and its {@code k} largest activations with
 * their rows (a bounded min-heap per feature, in flat arrays). The order of the top rows is total
 * (larger activation first, then earlier row), so that merging partial totals in any grouping gives
 * the same top rows; sums are merged in a fixed order by the job.
 */
final class FeatureTotals implements Serializable {
    final int features, k;
    long rows;
    final long[] count;
    final double[] sum;
    final float[] max;
    private final float[] topValue; // per feature f: a min-heap in [f*k, f*k + topSize[f])
    private final long[] topRow;
    private final int[] topSize;

    /** One of a feature's top rows. */
    record Hit(float value, long row) {}

    FeatureTotals(int features, int k) {
        this.features = features;
        this.k = k;
        this.count = new long[features];
        this.sum = new double[features];
        this.max = new float[features];
        this.topValue = new float[features * k];
        this.topRow = new long[features * k];
        this.topSize = new int[features];
    }

    /**
     * Adds a batch: {@code acts} [n, features] are the activations of rows {@code firstRow..}. Scanned
     * feature by feature (a transposed, c-ordered view when the encoder made it f-ordered); only an
     * activation above the feature's current k-th largest touches its heap.
     */
    void add(INDArray acts, long firstRow) {
        int n = (int) acts.size(0);
        INDArray byFeature = acts.transpose(); // [features, n]
        INDArray dense = NativeBytes.viewable(byFeature) ? byFeature : byFeature.dup('c');
        FloatBuffer v = NativeBytes.of(dense).asFloatBuffer();
        for (int f = 0; f < features; f++) {
            int base = f * n;
            long c = 0;
            double s = 0;
            float m = max[f];
            float threshold = topSize[f] < k ? 0 : topValue[f * k];
            for (int i = 0; i < n; i++) {
                float a = v.get(base + i);
                if (a > 0) {
                    c++;
                    s += a;
                    if (a > m) m = a;
                    if (a > threshold) {
                        offer(f, a, firstRow + i);
                        threshold = topSize[f] < k ? 0 : topValue[f * k];
                    }
                }
            }
            count[f] += c;
            sum[f] += s;
            max[f] = m;
        }
        java.lang.ref.Reference.reachabilityFence(dense);
        if (dense != byFeature) NativeBytes.free(dense);
        rows += n;
    }

    /** Adds {@code other}'s totals (rows elsewhere in the store). */
    void merge(FeatureTotals other) {
        rows += other.rows;
        for (int f = 0; f < features; f++) {
            count[f] += other.count[f];
            sum[f] += other.sum[f];
            max[f] = Math.max(max[f], other.max[f]);
            for (int j = 0; j < other.topSize[f]; j++) {
                int at = f * k + j;
                offer(f, other.topValue[at], other.topRow[at]);
            }
        }
    }

    /** Feature f's top rows, largest activation first (ties: earlier row first). */
    List<Hit> top(int f) {
        List<Hit> out = new ArrayList<>();
        for (int j = 0; j < topSize[f]; j++) out.add(new Hit(topValue[f * k + j], topRow[f * k + j]));
        out.sort((a, b) -> worse(a.value(), a.row(), b.value(), b.row()) ? 1 : -1);
        return out;
    }

    /** The total order of hits: (a, ra) ranks below (b, rb). */
    private static boolean worse(float a, long ra, float b, long rb) {
        return a < b || (a == b && ra > rb);
    }

    private void offer(int f, float value, long row) {
        int base = f * k, size = topSize[f];
        if (size < k) { // sift up from the end
            int i = size;
            topSize[f] = size + 1;
            while (i > 0) {
                int parent = (i - 1) / 2;
                if (!worse(value, row, topValue[base + parent], topRow[base + parent])) break;
                topValue[base + i] = topValue[base + parent];
                topRow[base + i] = topRow[base + parent];
                i = parent;
            }
            topValue[base + i] = value;
            topRow[base + i] = row;
            return;
        }
        if (!worse(topValue[base], topRow[base], value, row)) return; // not better than the worst kept
        int i = 0; // replace the root, sift down
        while (true) {
            int l = 2 * i + 1, r = l + 1, w = i;
            float wv = value;
            long wr = row;
            if (l < k && worse(topValue[base + l], topRow[base + l], wv, wr)) {
                w = l;
                wv = topValue[base + l];
                wr = topRow[base + l];
            }
            if (r < k && worse(topValue[base + r], topRow[base + r], wv, wr)) w = r;
            if (w == i) break;
            topValue[base + i] = topValue[base + w];
            topRow[base + i] = topRow[base + w];
            i = w;
        }
        topValue[base + i] = value;
        topRow[base + i] = row;
    }
}
