package dev.loupe.engine.autograd;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Off-heap buffers that finished passes gave back, for the next pass to reuse. ND4J's allocation
 * costs a pass over the memory (0.6 ms for a 12.6 MB attention pattern here), so a forward pass
 * that allocates a fresh array per op spent ~19% of its time allocating. One pool per thread (a
 * forward pass runs on one thread), holding at most {@link #MAX_BYTES}; beyond that buffers are freed.
 */
final class BufferPool {
    /** Bytes a thread's pool may hold: {@code -Dloupe.bufferPoolBytes}, default 1 GiB. */
    static final long MAX_BYTES = Long.getLong("loupe.bufferPoolBytes", 1L << 30);

    private static final ThreadLocal<BufferPool> POOL = ThreadLocal.withInitial(BufferPool::new);

    private record Key(DataType type, long length) {}

    private final Map<Key, ArrayDeque<DataBuffer>> free = new HashMap<>();
    private final java.util.Set<DataBuffer> pooled =
            java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private long bytes;

    static BufferPool current() {
        return POOL.get();
    }

    /**
     * A c-ordered array of this shape, on a reused buffer when one of the right size is free.
     * Inside an ND4J workspace (a training step) the workspace recycles memory itself: allocate there.
     */
    INDArray take(DataType type, long[] shape) {
        if (Nd4j.getMemoryManager().getCurrentWorkspace() != null) return Nd4j.createUninitialized(type, shape);
        long length = 1;
        for (long s : shape) length *= s;
        ArrayDeque<DataBuffer> q = free.get(new Key(type, length));
        DataBuffer b = q == null ? null : q.poll();
        if (b == null) return Nd4j.createUninitialized(type, shape);
        pooled.remove(b);
        bytes -= length * type.width();
        return Nd4j.create(b, shape);
    }

    /** Takes back the buffer of an array nothing references any more; frees it when the pool is full. */
    void give(INDArray owner) {
        if (owner.isAttached()) return; // workspace memory: the workspace frees it
        DataBuffer b = owner.data();
        if (pooled.contains(b)) return; // given back twice (a cache and its result share the logits)
        long size = owner.length() * owner.dataType().width();
        if (owner.isView()
                || b.originalDataBuffer() != null
                || owner.length() != b.length()
                || bytes + size > MAX_BYTES) {
            owner.close();
            return;
        }
        free.computeIfAbsent(new Key(owner.dataType(), owner.length()), k -> new ArrayDeque<>())
                .push(b);
        pooled.add(b);
        bytes += size;
    }

    /** Frees every pooled buffer now. */
    void clear() {
        free.values().forEach(q -> q.forEach(DataBuffer::close));
        free.clear();
        pooled.clear();
        bytes = 0;
    }
}
