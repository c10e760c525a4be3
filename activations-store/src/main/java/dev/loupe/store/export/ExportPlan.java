package dev.loupe.store.export;

import dev.loupe.store.read.ActivationStore;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * A checked export: which hooks, in which dtype, how the store's sequences are cut into files
 * (contiguous, as {@code Dataset.shard(contiguous=True)} cuts them) and read in blocks.
 *
 * @param dtype   "float32" or "float16", as {@code datasets} names them
 * @param buffers how much is read and buffered at a time
 */
record ExportPlan(
        ActivationStore store,
        List<String> hooks,
        String dtype,
        ExportOptions.Rows rows,
        long shardBytes,
        Buffers buffers) {

    /**
     * Memory an export holds, in activation bytes: a block read from the store (an Arrow record batch),
     * a Parquet row group (buffered by Parquet until written), a Parquet page.
     */
    record Buffers(long blockBytes, long rowGroupBytes, int pageBytes) {
        /** 32 MB blocks; 64 MB row groups (DuckDB and pyarrow read row groups in parallel); 1 MB pages (Parquet's default). */
        static final Buffers DEFAULT = new Buffers(32L << 20, 64L << 20, 1 << 20);
    }

    ExportPlan {
        hooks = List.copyOf(hooks);
    }

    ExportPlan(ActivationStore store, List<String> hooks, String dtype, ExportOptions.Rows rows, long shardBytes) {
        this(store, hooks, dtype, rows, shardBytes, Buffers.DEFAULT);
    }

    ExportPlan withBuffers(Buffers b) {
        return new ExportPlan(store, hooks, dtype, rows, shardBytes, b);
    }

    int context() {
        return store.manifest().contextSize();
    }

    long sequences() {
        return store.manifest().sequences();
    }

    int d(String hook) {
        return store.d(hook);
    }

    DataType nd4j() {
        return dtype.equals("float16") ? DataType.HALF : DataType.FLOAT;
    }

    /** Bytes per activation value in the files. */
    int width() {
        return nd4j().width();
    }

    /** Activation bytes of one sequence, every exported hook. */
    long activationBytesPerSequence() {
        long perToken = 0;
        for (String h : hooks) perToken += (long) d(h) * width();
        return perToken * context();
    }

    /**
     * An upper bound on what a sequence adds to a file: activations, token ids and positions (int32),
     * its index (int64), and Arrow's list offsets (int32 per position and hook) and validity bitmaps
     * (a bit per value; 3% of float32 activations). Parquet's levels take less than the bitmaps.
     */
    long bytesPerSequence() {
        long values = 0;
        for (String h : hooks) values += (long) d(h) * context();
        long offsets = 4L * (context() + 1) * hooks.size();
        long validity = (values + 2L * context() + 7) / 8 + 2L * hooks.size() + 2;
        return activationBytesPerSequence() + 8L * context() + 8 + offsets + validity;
    }

    /** Total activation bytes: the progress bar's and the benchmark's unit. */
    long activationBytes() {
        return activationBytesPerSequence() * sequences();
    }

    /**
     * The sequences of each file, {@code [first, end)}: {@code ceil(bytes / shardBytes)} files (at
     * least one, at most one per sequence), sizes differing by at most one sequence, the larger first.
     */
    List<long[]> files() {
        long n = sequences();
        long count = Math.max(1, Math.min(n, ceilDiv(bytesPerSequence() * n, shardBytes)));
        List<long[]> out = new ArrayList<>();
        long div = n / count, mod = n % count;
        for (long i = 0; i < count; i++) {
            long start = div * i + Math.min(i, mod);
            out.add(new long[] {start, start + div + (i < mod ? 1 : 0)});
        }
        return out;
    }

    /** Sequences per block read from the store: about {@code budgetBytes} of activations, at least one. */
    int blockSequences(long budgetBytes) {
        long per = Math.max(1, activationBytesPerSequence());
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE / Math.max(1, context()), budgetBytes / per));
    }

    SequenceBlock read(long firstSequence, int count) {
        return SequenceBlock.read(this, firstSequence, count);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
