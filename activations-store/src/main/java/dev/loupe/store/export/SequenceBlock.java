package dev.loupe.store.export;

import dev.loupe.store.NativeBytes;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Consecutive whole sequences of a store, read for an export: each hook's rows
 * {@code [sequences * context, d]} in the export's dtype (c order, one bulk copy from the
 * memory-mapped shards plus at most one cast), and each row's token id, sequence index and position.
 * Close it to free the arrays' native memory at once.
 */
final class SequenceBlock implements AutoCloseable {
    final long firstSequence;
    final int sequences;
    final int context;
    final int[] tokens;
    final long[] sequence;
    final int[] position;
    private final Map<String, INDArray> activations;

    private SequenceBlock(
            long firstSequence,
            int sequences,
            int context,
            Map<String, INDArray> activations,
            int[] tokens,
            long[] sequence,
            int[] position) {
        this.firstSequence = firstSequence;
        this.sequences = sequences;
        this.context = context;
        this.activations = activations;
        this.tokens = tokens;
        this.sequence = sequence;
        this.position = position;
    }

    static SequenceBlock read(ExportPlan plan, long firstSequence, int count) {
        int context = plan.context();
        long firstRow = firstSequence * context;
        int rows = Math.multiplyExact(count, context);
        Map<String, INDArray> acts = new LinkedHashMap<>();
        for (String h : plan.hooks()) {
            INDArray x = plan.store().rows(h, firstRow, rows); // [rows, d] float32
            if (x.dataType() != plan.nd4j()) { // float16 kept: the f16 values round-trip float32 exactly
                INDArray y = x.castTo(plan.nd4j());
                NativeBytes.free(x);
                x = y;
            }
            acts.put(h, x);
        }
        return new SequenceBlock(
                firstSequence,
                count,
                context,
                acts,
                plan.store().tokens(firstRow, rows),
                plan.store().sequences(firstRow, rows),
                plan.store().positions(firstRow, rows));
    }

    /** Rows (tokens) in the block. */
    int rows() {
        return sequences * context;
    }

    /** A hook's values, little-endian, row after row; valid until {@link #close}. */
    ByteBuffer bytes(String hook) {
        return NativeBytes.of(activations.get(hook));
    }

    @Override
    public void close() {
        activations.values().forEach(NativeBytes::free);
    }
}
