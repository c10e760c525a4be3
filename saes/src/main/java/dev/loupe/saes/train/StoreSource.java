package dev.loupe.saes.train;

import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.ShuffleConfig;
import dev.loupe.store.read.ShuffledStream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One hook of an {@link ActivationStore} through its {@link ShuffledStream}: memory bounded by the
 * mixing buffer (8 bytes a row) and one batch gathered ahead on a background thread. The mean norm
 * comes from the store's statistics, written at harvest time (no pass over the rows).
 */
public final class StoreSource implements ActivationSource {
    private final ActivationStore store;
    private final String hook;
    private final ShuffleConfig config;
    private final ShuffledStream stream;

    /** Enough epochs for {@code batches} batches of {@code batchSize}. */
    public StoreSource(ActivationStore store, String hook, int batchSize, long bufferRows, long seed, long batches) {
        this.store = store;
        this.hook = hook;
        long perEpoch = Math.max(1, (store.rows() + batchSize - 1) / batchSize);
        int epochs = (int) Math.min(Integer.MAX_VALUE, Math.max(1, (batches + perEpoch - 1) / perEpoch));
        this.config = ShuffleConfig.of(batchSize, Math.min(bufferRows, Math.max(1, store.rows())), seed)
                .withEpochs(epochs);
        this.stream = store.shuffled(hook, config);
    }

    @Override
    public String describe() {
        return "store " + store.dir() + " hook " + hook;
    }

    @Override
    public int d() {
        return store.d(hook);
    }

    @Override
    public long rows() {
        return store.rows();
    }

    @Override
    public INDArray next() {
        if (!stream.hasNext())
            throw new IllegalStateException(describe() + ": the stream ended (it was opened for fewer batches)");
        return stream.next();
    }

    /** Memory the mixing buffer holds. */
    public long bufferBytes() {
        return stream.bufferBytes();
    }

    @Override
    public INDArray sample(int n) {
        int rows = (int) Math.min(n, store.rows());
        try (ShuffledStream s = store.shuffled(
                hook, ShuffleConfig.of(rows, Math.min(config.bufferRows(), store.rows()), config.seed() ^ 0x5EED))) {
            return s.next();
        }
    }

    @Override
    public double meanNorm() {
        return store.statistics(hook).meanNorm();
    }

    @Override
    public void close() {
        stream.close();
    }
}
