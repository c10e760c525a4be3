package dev.loupe.store.read;

import dev.loupe.store.NativeBytes;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.BytePointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One hook's rows in random order, as float32 batches [batch, d], through a mixing buffer of
 * fixed size (memory independent of the store's size).
 *
 * <p>Each epoch reads the store in blocks of {@code blockRows} contiguous rows, visiting the blocks
 * in a random order (sequential reads within a block, mapped from page cache or disk). Rows go into
 * the buffer; each output row is a uniformly random buffer slot, refilled by the next incoming row.
 * When an epoch's input runs out the buffer is drained in random order, so every row appears
 * exactly once per epoch and batches never mix epochs. Rows are moved as raw bytes with bulk copies
 * into one array per batch, converted to float32 by one ND4J cast when stored as f16/bf16.
 * The same seed gives the same stream.
 */
public final class ShuffledStream implements Iterator<INDArray>, AutoCloseable {
    private static final long SEGMENT_BYTES = 1L << 30;

    private final ActivationStore store;
    private final String hook;
    private final ShuffleConfig config;
    private final int d;
    private final int rowBytes;
    private final long capacity;
    private final int rowsPerSegment;
    private final BytePointer[] segmentMemory;
    private final ByteBuffer[] segments;
    private final SplittableRandom rng;
    private final long rows;
    private long filled;
    private int epoch;
    private long emitted;
    // input of the current epoch
    private long[] blockStart;
    private int[] blockLength;
    private int nextBlock;
    private ByteBuffer source;
    private int sourcePos, sourceLeft;
    private boolean closed;

    ShuffledStream(ActivationStore store, String hook, ShuffleConfig config) {
        this.store = store;
        this.hook = hook;
        this.config = config;
        this.d = store.d(hook);
        this.rowBytes = d * store.dtype().width();
        this.rows = store.rows();
        this.capacity = Math.max(1, Math.min(config.bufferRows(), rows));
        this.rowsPerSegment = (int) Math.max(1, SEGMENT_BYTES / rowBytes);
        int nSegments = (int) ((capacity + rowsPerSegment - 1) / rowsPerSegment);
        segmentMemory = new BytePointer[nSegments];
        segments = new ByteBuffer[nSegments];
        for (int i = 0; i < nSegments; i++) {
            long slots = Math.min(rowsPerSegment, capacity - (long) i * rowsPerSegment);
            segmentMemory[i] = new BytePointer(slots * rowBytes);
            segments[i] = segmentMemory[i].asByteBuffer();
        }
        this.rng = new SplittableRandom(config.seed());
        startEpoch();
    }

    /** Bytes held by the mixing buffer: bufferRows (at most the store's rows) × d × storage width. */
    public long bufferBytes() {
        return capacity * rowBytes;
    }

    /** The epoch the next batch belongs to (0-based). */
    public int epoch() {
        return epoch;
    }

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
        for (int i = count - 1; i > 0; i--) {                      // Fisher-Yates over the blocks
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
        emitted = 0;
    }

    /** True when a row is ready to read from the input; moves to the next block when needed. */
    private boolean sourceHasRow() {
        if (sourceLeft > 0) return true;
        if (nextBlock >= blockStart.length) return false;
        long start = blockStart[nextBlock];
        sourceLeft = blockLength[nextBlock++];
        int shard = store.shardOf(start);
        source = store.data(hook, shard);
        sourcePos = (int) ((start - store.firstRow(shard)) * rowBytes);
        return true;
    }

    private void takeSourceInto(long slot) {
        segments[(int) (slot / rowsPerSegment)].put((int) (slot % rowsPerSegment) * rowBytes, source, sourcePos, rowBytes);
        sourcePos += rowBytes;
        sourceLeft--;
    }

    private void copySlot(long from, long to) {
        ByteBuffer src = segments[(int) (from / rowsPerSegment)];
        segments[(int) (to / rowsPerSegment)].put((int) (to % rowsPerSegment) * rowBytes, src,
                (int) (from % rowsPerSegment) * rowBytes, rowBytes);
    }

    @Override
    public boolean hasNext() {
        return !closed && rows > 0 && epoch < config.epochs();
    }

    /** The next batch, float32 [n, d] with n = batchSize except at the end of an epoch. */
    @Override
    public INDArray next() {
        if (!hasNext()) throw new NoSuchElementException();
        while (filled < capacity && sourceHasRow()) takeSourceInto(filled++);
        int n = (int) Math.min(config.batchSize(), rows - emitted);
        INDArray out = Nd4j.createUninitializedDetached(store.dtype().nd4j(), 'c', n, d);   // [n, d] storage dtype
        ByteBuffer dst = NativeBytes.of(out);
        for (int i = 0; i < n; i++) {
            long slot = rng.nextLong(filled);
            ByteBuffer seg = segments[(int) (slot / rowsPerSegment)];
            dst.put(i * rowBytes, seg, (int) (slot % rowsPerSegment) * rowBytes, rowBytes);
            if (sourceHasRow()) {
                takeSourceInto(slot);
            } else {
                if (slot != filled - 1) copySlot(filled - 1, slot);
                filled--;
            }
        }
        NativeBytes.written(out);
        emitted += n;
        if (emitted == rows) {
            epoch++;
            if (epoch < config.epochs()) startEpoch();
        }
        return ActivationStore.toFloat(out);
    }

    /** Frees the mixing buffer now. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (BytePointer p : segmentMemory) p.deallocate();
    }
}
