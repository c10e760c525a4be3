package dev.loupe.store.read;

import dev.loupe.engine.LoupeException;

/**
 * A shuffled stream's parameters.
 *
 * @param batchSize  rows per batch (the last batch of each epoch may be shorter)
 * @param bufferRows rows in the mixing buffer: it holds their row numbers (8 bytes each), whatever the store's size
 * @param seed       the same seed gives the same stream
 * @param epochs     passes over the store; every row appears exactly once per epoch
 * @param blockRows  rows read contiguously from one shard before moving to another random block
 */
public record ShuffleConfig(int batchSize, long bufferRows, long seed, int epochs, int blockRows) {
    public ShuffleConfig {
        if (batchSize < 1) throw new LoupeException("shuffle: batch size must be >= 1, got " + batchSize);
        if (bufferRows < 1) throw new LoupeException("shuffle: buffer rows must be >= 1, got " + bufferRows);
        if (epochs < 1) throw new LoupeException("shuffle: epochs must be >= 1, got " + epochs);
        if (blockRows < 1) throw new LoupeException("shuffle: block rows must be >= 1, got " + blockRows);
    }

    /** One epoch, blocks of 4096 rows. */
    public static ShuffleConfig of(int batchSize, long bufferRows, long seed) {
        return new ShuffleConfig(batchSize, bufferRows, seed, 1, 4096);
    }

    public ShuffleConfig withEpochs(int n) {
        return new ShuffleConfig(batchSize, bufferRows, seed, n, blockRows);
    }
}
