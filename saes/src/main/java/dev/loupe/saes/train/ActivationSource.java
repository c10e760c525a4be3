package dev.loupe.saes.train;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where a trainer's activations of one hook come from, batch after batch in a seeded random order:
 * {@link StoreSource} (an activations store's shuffled stream) or {@link ArraySource} (an array in
 * memory, e.g. an {@code .npy} file). Sources of several hooks with the same seed and rows give the same
 * rows in the same order, so SAEs of several hooks train from one pass.
 */
public interface ActivationSource extends AutoCloseable {
    /** What the rows are, for messages: {@code store acts/ hook blocks.0.hook_resid_post}. */
    String describe();

    /** Row width. */
    int d();

    /** Rows in one epoch. */
    long rows();

    /** The next batch, float32 [≤ batch, d]; the caller may free it. Runs through as many epochs as needed. */
    INDArray next();

    /** Skips {@code n} batches exactly as {@link #next} would return them (resuming a run). */
    default void skip(long n) {
        for (long i = 0; i < n; i++) {
            INDArray b = next();
            if (b.closeable()) b.close();
        }
    }

    /** Up to {@code n} rows drawn independently of the training order (to initialise b_dec). */
    INDArray sample(int n);

    /** The mean L2 norm of the rows (for {@code expected_average_only_in}). */
    double meanNorm();

    @Override
    void close();
}
