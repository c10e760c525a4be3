package dev.loupe.saes.kernels;

import java.nio.FloatBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Top-k selection of pre-activations, per row (TopK) or over a whole batch (BatchTopK), into
 * {@link SparseCodes} whose entries are sorted by latent within each row.
 *
 * <p>Why not ND4J: libnd4j's {@code top_k} op took 75 s for [4096, 16384] with k = 32 on the 2-core
 * development machine (torch.topk: 0.2 s). A row is copied once into a Java array and scanned
 * against the k-th largest value so far (a min-heap of k); a value that does not beat it costs one
 * comparison. Rows are split over the processors.
 */
public final class TopKSelect {
    private TopKSelect() {}

    /** The {@code k} largest values of each row of {@code pre} ([n, d_sae], dense c order, float32) with their latents. */
    public static SparseCodes perRow(INDArray pre, int k) {
        return perRow(pre, null, null, k, null);
    }

    /**
     * The {@code k} largest values of each row of {@code (raw + bias) · scale} (per latent; either may be
     * null) among the latents in {@code candidates} (all when null), as SAELens's AuxK loss selects among
     * dead latents; the values kept are the transformed ones. Applying the bias and scale here, to a row
     * that is already in cache, saves two passes over the [n, d_sae] matrix.
     */
    public static SparseCodes perRow(INDArray raw, float[] bias, float[] scale, int k, int[] candidates) {
        INDArray pre = raw;
        int n = (int) pre.size(0), s = (int) pre.size(1);
        int width = candidates == null ? s : candidates.length;
        if (k < 1 || k > width) throw new IllegalArgumentException("k = " + k + " of " + width + " latents");
        FloatBuffer data = NativeFloats.of(pre);
        int[] rowStart = new int[n + 1];
        for (int b = 0; b <= n; b++) rowStart[b] = b * k;
        int[] index = new int[n * k];
        float[] value = new float[n * k];
        Parallel.forRange(n, s, (from, to) -> {
            float[] row = new float[s];
            float[] hv = new float[k];
            int[] hi = new int[k];
            for (int b = from; b < to; b++) {
                data.get((int) ((long) b * s), row, 0, s);
                if (bias != null) for (int j = 0; j < s; j++) row[j] += bias[j];
                if (scale != null) for (int j = 0; j < s; j++) row[j] *= scale[j];
                if (candidates == null) selectRow(row, s, k, hv, hi);
                else selectAmong(row, candidates, k, hv, hi);
                sortByIndex(hv, hi, k);
                System.arraycopy(hv, 0, value, b * k, k);
                System.arraycopy(hi, 0, index, b * k, k);
            }
        });
        return new SparseCodes(n, s, rowStart, index, value);
    }

    private static void selectRow(float[] row, int s, int k, float[] hv, int[] hi) {
        for (int j = 0; j < k; j++) {
            hv[j] = row[j];
            hi[j] = j;
        }
        for (int j = k / 2 - 1; j >= 0; j--) siftDown(hv, hi, j, k);
        float min = hv[0];
        for (int j = k; j < s; j++) {
            float v = row[j];
            if (v > min) {
                hv[0] = v;
                hi[0] = j;
                siftDown(hv, hi, 0, k);
                min = hv[0];
            }
        }
    }

    private static void selectAmong(float[] row, int[] candidates, int k, float[] hv, int[] hi) {
        for (int j = 0; j < k; j++) {
            hv[j] = row[candidates[j]];
            hi[j] = candidates[j];
        }
        for (int j = k / 2 - 1; j >= 0; j--) siftDown(hv, hi, j, k);
        float min = hv[0];
        for (int j = k; j < candidates.length; j++) {
            float v = row[candidates[j]];
            if (v > min) {
                hv[0] = v;
                hi[0] = candidates[j];
                siftDown(hv, hi, 0, k);
                min = hv[0];
            }
        }
    }

    /** Min-heap on value; among equal values the larger latent sits higher, so the lowest latents win ties. */
    private static void siftDown(float[] v, int[] ix, int i, int n) {
        while (true) {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < n && below(v[l], ix[l], v[m], ix[m])) m = l;
            if (r < n && below(v[r], ix[r], v[m], ix[m])) m = r;
            if (m == i) return;
            float tv = v[i];
            v[i] = v[m];
            v[m] = tv;
            int ti = ix[i];
            ix[i] = ix[m];
            ix[m] = ti;
            i = m;
        }
    }

    private static boolean below(float a, int ia, float b, int ib) {
        return a < b || (a == b && ia > ib);
    }

    private static void sortByIndex(float[] v, int[] ix, int n) {
        for (int i = 1; i < n; i++) {
            int key = ix[i];
            float kv = v[i];
            int j = i - 1;
            while (j >= 0 && ix[j] > key) {
                ix[j + 1] = ix[j];
                v[j + 1] = v[j];
                j--;
            }
            ix[j + 1] = key;
            v[j + 1] = kv;
        }
    }

    /**
     * BatchTopK (SAELens's {@code BatchTopK}): of the non-negative activations {@code relu(pre)} of the
     * whole batch, the {@code total} largest, by row. Zeros are never kept (SAELens keeps some when
     * fewer than {@code total} are positive, which changes nothing). Ties at the cut are broken by
     * position in the batch. Three passes: a histogram of the high 16 bits of the positive values
     * (whose bit patterns order like the values), one of the low 16 bits within the bucket holding the
     * cut, and the gather.
     */
    public static SparseCodes batch(INDArray pre, long total) {
        int n = (int) pre.size(0), s = (int) pre.size(1);
        FloatBuffer data = NativeFloats.of(pre);
        long[] high = histogram(data, n, s, -1);
        long above = 0;
        int cutHigh = -1;
        for (int h = high.length - 1; h >= 0; h--) {
            if (above + high[h] >= total) {
                cutHigh = h;
                break;
            }
            above += high[h];
        }
        int cutBits; // values with bits > cutBits are kept, plus `atCut` of those equal to it
        long atCut;
        if (cutHigh < 0) { // fewer positive values than total: keep them all
            cutBits = 0;
            atCut = 0;
        } else {
            long[] low = histogram(data, n, s, cutHigh);
            long need = total - above;
            int cutLow = 0;
            for (int l = low.length - 1; l >= 0; l--) {
                if (low[l] >= need) {
                    cutLow = l;
                    break;
                }
                need -= low[l];
            }
            cutBits = (cutHigh << 16) | cutLow;
            atCut = need;
        }
        int[] counts = new int[n];
        long[] equalBefore = new long[n + 1]; // entries equal to the cut in rows before b
        for (int b = 0; b < n; b++) {
            int c = 0, eq = 0;
            for (int j = 0; j < s; j++) {
                int bits = Float.floatToRawIntBits(data.get(b * s + j));
                if (bits > cutBits) c++;
                else if (bits == cutBits && cutBits != 0) eq++;
            }
            equalBefore[b + 1] = equalBefore[b] + eq;
            counts[b] = c + (int) Math.max(0, Math.min(eq, atCut - equalBefore[b]));
        }
        int[] rowStart = new int[n + 1];
        for (int b = 0; b < n; b++) rowStart[b + 1] = rowStart[b] + counts[b];
        int[] index = new int[rowStart[n]];
        float[] value = new float[rowStart[n]];
        Parallel.forRange(n, s, (from, to) -> {
            float[] row = new float[s];
            for (int b = from; b < to; b++) {
                data.get((int) ((long) b * s), row, 0, s);
                long equalLeft = Math.max(0, atCut - equalBefore[b]);
                int e = rowStart[b];
                for (int j = 0; j < s; j++) {
                    int bits = Float.floatToRawIntBits(row[j]);
                    boolean keep = bits > cutBits || (bits == cutBits && cutBits != 0 && equalLeft-- > 0);
                    if (keep) {
                        index[e] = j;
                        value[e++] = row[j];
                    }
                }
            }
        });
        return new SparseCodes(n, s, rowStart, index, value);
    }

    /** Counts of positive values by their high 16 bits ({@code bucket < 0}), or by low 16 bits within high bucket {@code bucket}. */
    private static long[] histogram(FloatBuffer data, int n, int s, int bucket) {
        long[][] parts = new long[Parallel.threads()][];
        int[] slot = {0};
        Parallel.forRange(n, s, (from, to) -> {
            long[] h = new long[1 << 16];
            float[] row = new float[s];
            for (int b = from; b < to; b++) {
                data.get((int) ((long) b * s), row, 0, s);
                for (int j = 0; j < s; j++) {
                    int bits = Float.floatToRawIntBits(row[j]);
                    if (bits <= 0) continue; // zero, negative or -0
                    if (bucket < 0) h[bits >>> 16]++;
                    else if ((bits >>> 16) == bucket) h[bits & 0xFFFF]++;
                }
            }
            synchronized (parts) {
                parts[slot[0]++] = h;
            }
        });
        long[] sum = new long[1 << 16];
        for (long[] p : parts) if (p != null) for (int i = 0; i < sum.length; i++) sum[i] += p[i];
        return sum;
    }
}
