package dev.loupe.saes.train;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Rows of an array in memory [rows, d] in a seeded random order: each epoch is a permutation
 * (Fisher-Yates over {@code SplittableRandom(seed, epoch)}), cut into batches (the last of an epoch may be
 * shorter). Skipping to a batch is arithmetic, not replay.
 */
public final class ArraySource implements ActivationSource {
    private final INDArray x;
    private final String name;
    private final int batchSize;
    private final long seed;
    private final int rows;
    private int[] order;
    private int epoch = -1;
    private int position; // within the epoch

    public ArraySource(INDArray x, String name, int batchSize, long seed) {
        if (x.rank() != 2) throw new IllegalArgumentException(name + ": expected [rows, d], got rank " + x.rank());
        this.x = x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
        this.name = name;
        this.batchSize = batchSize;
        this.seed = seed;
        this.rows = (int) x.size(0);
    }

    @Override
    public String describe() {
        return name;
    }

    @Override
    public int d() {
        return (int) x.size(1);
    }

    @Override
    public long rows() {
        return rows;
    }

    private void ensureEpoch() {
        if (order == null || position >= rows) {
            epoch++;
            position = 0;
            order = permutation(new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch));
        }
    }

    private int[] permutation(SplittableRandom rng) {
        int[] p = new int[rows];
        for (int i = 0; i < rows; i++) p[i] = i;
        for (int i = rows - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    @Override
    public INDArray next() {
        ensureEpoch();
        int n = Math.min(batchSize, rows - position);
        int[] idx = java.util.Arrays.copyOfRange(order, position, position + n);
        position += n;
        return Nd4j.pullRows(x, 1, idx, 'c');
    }

    @Override
    public void skip(long n) {
        for (long i = 0; i < n; i++) {
            ensureEpoch();
            position += Math.min(batchSize, rows - position);
        }
    }

    @Override
    public INDArray sample(int n) {
        int[] p = permutation(new SplittableRandom(seed ^ 0x5EED));
        return Nd4j.pullRows(x, 1, java.util.Arrays.copyOf(p, Math.min(n, rows)), 'c');
    }

    @Override
    public double meanNorm() {
        return x.norm2(1).meanNumber().doubleValue();
    }

    @Override
    public void close() {}
}
