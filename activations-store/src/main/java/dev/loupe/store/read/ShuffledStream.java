package dev.loupe.store.read;

import dev.loupe.engine.LoupeException;
import dev.loupe.store.BackgroundThread;
import dev.loupe.store.NativeBytes;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One hook's rows in random order, as float32 batches [batch, d], through a mixing buffer of fixed
 * size (memory independent of the store's size).
 *
 * <p>Each epoch reads the store in blocks of {@code blockRows} contiguous rows, visiting the blocks
 * in a random order. Rows enter the buffer as they are read; each output row is a uniformly random
 * buffer slot, refilled by the next incoming row. When an epoch's input runs out the buffer is drained
 * in random order, so every row appears exactly once per epoch and batches never mix epochs. The same
 * seed gives the same stream.
 *
 * <p>The buffer holds row numbers (8 bytes a row), not rows: the rows stay where the memory-mapped
 * shards are, in the page cache, and each is copied once, straight into its batch. A block's pages
 * are loaded in one sequential read when it enters the buffer, so a store that is not cached is still
 * read sequentially. Copying the rows into a buffer of our own first (the earlier design) cost a
 * second random copy per row and a 1.5 GB fill before the first batch (at 1M rows of d = 768, bf16).
 *
 * <p>The next batch is gathered on a background thread while the caller works on the current one;
 * rows stored as f16/bf16 are converted to float32 by one ND4J cast per batch on the caller's thread.
 */
public final class ShuffledStream implements Iterator<INDArray>, AutoCloseable {
    private final ActivationStore store;
    private final String hook;
    private final ShuffleConfig config;
    private final int d;
    private final int rowBytes;
    private final long rows;
    private final long batchesPerEpoch;
    private final long totalBatches;
    private long batchesReturned;
    private boolean closed;

    // Gathering state: touched only by the gathering thread (tasks run one at a time, in order).
    private final long[] slots;
    private int filled;
    private final SplittableRandom rng;
    private long[] blockStart;
    private int[] blockLength;
    private int nextBlock;
    private long sourceRow;
    private int sourceLeft;
    private long emittedThisEpoch;

    private final ExecutorService gatherer = BackgroundThread.named("loupe-shuffle-gather");
    private Future<INDArray> nextBatch;

    ShuffledStream(ActivationStore store, String hook, ShuffleConfig config) {
        this.store = store;
        this.hook = hook;
        this.config = config;
        this.d = store.d(hook);
        this.rowBytes = d * store.dtype().width();
        this.rows = store.rows();
        long capacity = Math.max(1, Math.min(config.bufferRows(), rows));
        if (capacity > Integer.MAX_VALUE - 8)
            throw new LoupeException("shuffle: buffer rows must be below 2^31, got " + config.bufferRows());
        this.slots = new long[(int) capacity];
        this.batchesPerEpoch = (rows + config.batchSize() - 1) / config.batchSize();
        this.totalBatches = batchesPerEpoch * config.epochs();
        this.rng = new SplittableRandom(config.seed());
        if (rows > 0) {
            startEpoch();
            nextBatch = gatherer.submit(this::gather);
        }
    }

    /** Memory the mixing buffer holds: one row number (8 bytes) per buffered row; the rows themselves stay in the page cache. */
    public long bufferBytes() {
        return (long) slots.length * Long.BYTES;
    }

    /** The epoch the next batch belongs to (0-based). */
    public int epoch() {
        return (int) (batchesReturned / Math.max(1, batchesPerEpoch));
    }

    @Override
    public boolean hasNext() {
        return !closed && batchesReturned < totalBatches;
    }

    /** The next batch, float32 [n, d] with n = batchSize except at the end of an epoch. */
    @Override
    public INDArray next() {
        if (!hasNext()) throw new NoSuchElementException();
        INDArray stored = await(nextBatch);
        batchesReturned++;
        nextBatch = batchesReturned < totalBatches ? gatherer.submit(this::gather) : null;
        return ActivationStore.toFloat(stored);
    }

    private static INDArray await(Future<INDArray> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("shuffle: interrupted while waiting for the next batch", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new LoupeException("shuffle: gathering a batch failed: " + e.getCause(), e.getCause());
        }
    }

    // ------------------------------------------------------------------ gathering thread

    private void startEpoch() {
        int shards = store.shardCount();
        int count = 0;
        for (int s = 0; s < shards; s++) {
            long n = store.firstRow(s + 1) - store.firstRow(s);
            count += (int) ((n + config.blockRows() - 1) / config.blockRows());
        }
        blockStart = new long[count];
        blockLength = new int[count];
        int k = 0;
        for (int s = 0; s < shards; s++)
            for (long r = store.firstRow(s); r < store.firstRow(s + 1); r += config.blockRows()) {
                blockStart[k] = r;
                blockLength[k++] = (int) Math.min(config.blockRows(), store.firstRow(s + 1) - r);
            }
        for (int i = count - 1; i > 0; i--) { // Fisher-Yates over the blocks
            int j = rng.nextInt(i + 1);
            long t = blockStart[i];
            blockStart[i] = blockStart[j];
            blockStart[j] = t;
            int u = blockLength[i];
            blockLength[i] = blockLength[j];
            blockLength[j] = u;
        }
        nextBlock = 0;
        sourceLeft = 0;
        emittedThisEpoch = 0;
    }

    /** True when a row is ready to enter the buffer; moves to the next block (loading its pages) when needed. */
    private boolean sourceHasRow() {
        if (sourceLeft > 0) return true;
        if (nextBlock >= blockStart.length) return false;
        sourceRow = blockStart[nextBlock];
        sourceLeft = blockLength[nextBlock++];
        int shard = store.shardOf(sourceRow);
        ByteBuffer data = store.data(hook, shard);
        if (data instanceof MappedByteBuffer m)
            m.slice((int) ((sourceRow - store.firstRow(shard)) * rowBytes), sourceLeft * rowBytes)
                    .load();
        return true;
    }

    private long takeSource() {
        sourceLeft--;
        return sourceRow++;
    }

    /** Draws the next batch (storage dtype [n, d]), copying each row once from the mapped shards. */
    private INDArray gather() {
        while (filled < slots.length && sourceHasRow()) slots[filled++] = takeSource();
        int n = (int) Math.min(config.batchSize(), rows - emittedThisEpoch);
        INDArray out = Nd4j.createUninitializedDetached(store.dtype().nd4j(), 'c', n, d); // [n, d] storage dtype
        ByteBuffer dst = NativeBytes.of(out);
        int shard = -1;
        ByteBuffer src = null;
        for (int i = 0; i < n; i++) {
            int slot = (int) rng.nextLong(filled);
            long row = slots[slot];
            if (shard < 0 || row < store.firstRow(shard) || row >= store.firstRow(shard + 1)) {
                shard = store.shardOf(row);
                src = store.data(hook, shard);
            }
            dst.put(i * rowBytes, src, (int) ((row - store.firstRow(shard)) * rowBytes), rowBytes);
            slots[slot] = sourceHasRow() ? takeSource() : slots[--filled];
        }
        NativeBytes.written(out);
        emittedThisEpoch += n;
        if (emittedThisEpoch == rows) startEpoch();
        return out;
    }

    /** Stops gathering and frees the batch gathered ahead. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (nextBatch != null) {
            try {
                NativeBytes.free(nextBatch.get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException ignored) {
                // nothing was gathered to free
            }
            nextBatch = null;
        }
        gatherer.shutdown();
    }
}
