package dev.loupe.probes.data;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.read.ActivationStore;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * One hook of an {@link ActivationStore} as a {@link RowSource}: each scan streams the hook's rows
 * from the memory-mapped shards in order, one float32 batch at a time (bf16/f16 rows are cast as they
 * are read), so memory stays at one batch whatever the size of the store.
 */
public final class StoreRows implements RowSource {
    private final ActivationStore store;
    private final String hook;
    private final int d;

    private StoreRows(ActivationStore store, String hook) {
        this.store = store;
        this.hook = hook;
        this.d = store.d(hook);
    }

    /** The rows of {@code hook} (full or short name, e.g. {@code resid_post3}) in {@code store}. */
    public static StoreRows of(ActivationStore store, String hook) {
        String full = store.hooks().contains(hook) ? hook : HookNames.actName(hook, -1);
        if (!store.hooks().contains(full))
            throw new LoupeException(store.dir() + ": "
                    + HookNames.unknown("hook in this store", hook, store.hooks())
                            .getMessage());
        return new StoreRows(store, full);
    }

    public ActivationStore store() {
        return store;
    }

    @Override
    public String hook() {
        return hook;
    }

    @Override
    public long rows() {
        return store.rows();
    }

    @Override
    public int d() {
        return d;
    }

    @Override
    public String description() {
        return store.dir() + " (hook " + hook + ")";
    }

    /**
     * Reads each batch into two buffers allocated once per scan, a storage-dtype one (bf16/f16 only)
     * and a float32 one: a fresh [10922, 768] float32 batch is over glibc's 32 MB mmap threshold, so
     * each one came from the kernel and went back, and on a VM its page faults cost ~0.1 s per batch,
     * far more than reading it.
     */
    @Override
    public void scan(int batchRows, BatchVisitor visitor) {
        long n = store.rows();
        if (n == 0) return;
        int size = (int) Math.min(batchRows, n);
        boolean cast = store.dtype().nd4j() != DataType.FLOAT;
        try (INDArray rows = Nd4j.createUninitializedDetached(DataType.FLOAT, 'c', size, d); // [size, d]
                INDArray stored =
                        cast ? Nd4j.createUninitializedDetached(store.dtype().nd4j(), 'c', size, d) : null) {
            for (long from = 0; from < n; from += size) {
                int count = (int) Math.min(size, n - from);
                INDArray out = first(rows, count, size);
                INDArray in = cast ? first(stored, count, size) : out;
                store.copyRows(hook, from, count, NativeBytes.of(in));
                NativeBytes.written(in);
                if (cast) out.assign(in); // bf16/f16 -> float32
                visitor.visit(from, out);
            }
        }
    }

    /** The first {@code count} rows of a [size, d] buffer (a dense view). */
    private static INDArray first(INDArray buffer, int count, int size) {
        return count == size ? buffer : buffer.get(NDArrayIndex.interval(0, count), NDArrayIndex.all());
    }
}
