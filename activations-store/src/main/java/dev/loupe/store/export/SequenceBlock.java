package dev.loupe.store.export;

import dev.loupe.store.NativeBytes;
import java.nio.ByteBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Consecutive whole sequences of a store, read for an export: each row's token id, sequence index
 * and position, and each hook's activations on demand ({@link #activations}), read from the shard
 * files into the writer's buffer when the store already holds the export's dtype, else cast once
 * (bf16 and f16 rows to float32).
 */
final class SequenceBlock {
    final long firstSequence;
    final int sequences;
    final int context;
    final int[] tokens;
    final long[] sequence;
    final int[] position;
    private final ExportPlan plan;

    private SequenceBlock(ExportPlan plan, long firstSequence, int sequences, int[] tokens, long[] seq, int[] pos) {
        this.plan = plan;
        this.firstSequence = firstSequence;
        this.sequences = sequences;
        this.context = plan.context();
        this.tokens = tokens;
        this.sequence = seq;
        this.position = pos;
    }

    static SequenceBlock read(ExportPlan plan, long firstSequence, int count) {
        long firstRow = firstSequence * plan.context();
        int rows = Math.multiplyExact(count, plan.context());
        return new SequenceBlock(
                plan,
                firstSequence,
                count,
                plan.store().tokens(firstRow, rows),
                plan.store().sequences(firstRow, rows),
                plan.store().positions(firstRow, rows));
    }

    /** Rows (tokens) in the block. */
    int rows() {
        return sequences * context;
    }

    /** Bytes of a hook's activations in the export dtype. */
    long bytes(String hook) {
        return (long) rows() * plan.d(hook) * plan.width();
    }

    /** Puts a hook's values, in the export dtype, little-endian, row after row, into {@code dst} at its position. */
    void activations(String hook, ByteBuffer dst) {
        long firstRow = firstSequence * context;
        if (plan.store().dtype().nd4j() == plan.nd4j()) {
            plan.store().readRows(hook, firstRow, rows(), dst);
            return;
        }
        INDArray x = plan.store().rows(hook, firstRow, rows()); // [rows, d] float32, cast from bf16/f16
        dst.put(NativeBytes.of(x));
        java.lang.ref.Reference.reachabilityFence(x);
        NativeBytes.free(x);
    }
}
