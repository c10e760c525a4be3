package dev.loupe.saes.kernels;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Sparse latent codes of {@code rows} inputs over {@code dSae} latents, compressed by row (CSR): row
 * {@code b} holds entries {@code rowStart[b] .. rowStart[b+1]-1}, each a latent {@code index[e]} and a
 * {@code value[e]}. A TopK code has exactly k entries a row; a BatchTopK code any number.
 *
 * <p>The arrays are the codes' own and are shared, not copied: treat them as read-only.
 */
public final class SparseCodes {
    private final int rows, dSae;
    private final int[] rowStart, index;
    private final float[] value;

    public SparseCodes(int rows, int dSae, int[] rowStart, int[] index, float[] value) {
        if (rowStart.length != rows + 1 || index.length != value.length || rowStart[rows] != index.length)
            throw new IllegalArgumentException("inconsistent sparse codes: " + rows + " rows, " + rowStart.length
                    + " row starts, " + index.length + " indices, " + value.length + " values");
        this.rows = rows;
        this.dSae = dSae;
        this.rowStart = rowStart;
        this.index = index;
        this.value = value;
    }

    /** Codes with the same entries (rows, latents) and other values. */
    public SparseCodes withValues(float[] values) {
        return new SparseCodes(rows, dSae, rowStart, index, values);
    }

    public int rows() {
        return rows;
    }

    public int dSae() {
        return dSae;
    }

    /** Number of stored entries (zeros included, when a selected value is 0). */
    public int size() {
        return index.length;
    }

    public int[] rowStart() {
        return rowStart;
    }

    public int[] index() {
        return index;
    }

    public float[] value() {
        return value;
    }

    /** The row of entry {@code e} (a binary search over the row starts). */
    public int rowOf(int e) {
        int lo = 0, hi = rows - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (rowStart[mid] <= e) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /** The entries' rows, one per entry. */
    public int[] entryRows() {
        int[] r = new int[index.length];
        for (int b = 0; b < rows; b++) for (int e = rowStart[b]; e < rowStart[b + 1]; e++) r[e] = b;
        return r;
    }

    /** The dense [rows, d_sae] float32 matrix. */
    public INDArray toDense() {
        float[] dense = new float[Math.multiplyExact(rows, dSae)];
        for (int b = 0; b < rows; b++)
            for (int e = rowStart[b]; e < rowStart[b + 1]; e++) dense[b * dSae + index[e]] += value[e];
        return Nd4j.create(dense, new long[] {rows, dSae}, DataType.FLOAT);
    }

    /** Number of nonzero values. */
    public long nonzero() {
        long n = 0;
        for (float v : value) if (v != 0) n++;
        return n;
    }

    /**
     * The entries grouped by latent: {@code order[latentStart[f] .. latentStart[f+1]-1]} are the entries
     * of latent {@code f}, in row order. A gradient summed per latent in this order is the same whatever
     * the number of threads.
     */
    public LatentIndex byLatent() {
        int[] start = new int[dSae + 1];
        for (int i : index) start[i + 1]++;
        for (int f = 0; f < dSae; f++) start[f + 1] += start[f];
        int[] fill = start.clone(), order = new int[index.length];
        for (int e = 0; e < index.length; e++) order[fill[index[e]]++] = e;
        return new LatentIndex(start, order);
    }

    /** Entries by latent (see {@link #byLatent}). */
    public record LatentIndex(int[] latentStart, int[] order) {
        public int count(int latent) {
            return latentStart[latent + 1] - latentStart[latent];
        }
    }
}
