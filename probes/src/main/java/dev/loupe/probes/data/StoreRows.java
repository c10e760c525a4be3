package dev.loupe.probes.data;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.store.read.ActivationStore;
import org.nd4j.linalg.api.ndarray.INDArray;

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

    @Override
    public void scan(int batchRows, BatchVisitor visitor) {
        long n = store.rows();
        for (long from = 0; from < n; from += batchRows) {
            int count = (int) Math.min(batchRows, n - from);
            INDArray batch = store.rows(hook, from, count);
            try {
                visitor.visit(from, batch);
            } finally {
                if (batch.closeable()) batch.close(); // free the batch now, not at the next GC
            }
        }
    }
}
