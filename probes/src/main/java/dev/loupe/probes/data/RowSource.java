package dev.loupe.probes.data;

import dev.loupe.engine.LoupeException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Rows of activations, {@code [rows, d]}, visited in order in float32 batches: an array in memory
 * ({@link #of}) or one hook of an activations store ({@link StoreRows}), which is streamed and never
 * loaded whole. Probes fit on a source in passes: each pass is one {@link #scan}.
 */
public interface RowSource {

    long rows();

    int d();

    /** What the rows are, for messages: a file, or a store and a hook. */
    String description();

    /** The hook point the rows were read at (a store's hook, a cache's), or null when not known. */
    default String hook() {
        return null;
    }

    /** True when the rows are in memory (batches are views), false when each scan reads them. */
    default boolean inMemory() {
        return false;
    }

    /**
     * Visits every row in order, in batches of at most {@code batchRows} rows. A batch is a float32
     * {@code [b, d]} array, valid only during the call (it may be a view of the source or a buffer
     * that the next batch reuses).
     */
    void scan(int batchRows, BatchVisitor visitor);

    @FunctionalInterface
    interface BatchVisitor {
        void visit(long firstRow, INDArray batch);
    }

    /**
     * Rows in memory: {@code x} is {@code [rows, d]} of any floating type (cast to float32 once when
     * it is not float32 already). Batches are views, not copies.
     */
    static RowSource of(INDArray x, String description) {
        return of(x, description, null);
    }

    /** Rows in memory read at {@code hook} (recorded by the probes fitted on them). */
    static RowSource of(INDArray x, String description, String hook) {
        if (x == null) throw new LoupeException(description + ": the activations are null");
        if (x.rank() != 2)
            throw new LoupeException(description + ": expected activations [rows, d], got shape "
                    + java.util.Arrays.toString(x.shape()));
        if (!x.dataType().isFPType())
            throw new LoupeException(description + ": expected floating-point activations, got " + x.dataType());
        INDArray f = x.dataType() == DataType.FLOAT && x.ordering() == 'c' && !x.isView()
                ? x
                : x.castTo(DataType.FLOAT).dup('c');
        return new RowSource() {
            @Override
            public long rows() {
                return f.size(0);
            }

            @Override
            public int d() {
                return (int) f.size(1);
            }

            @Override
            public String description() {
                return description;
            }

            @Override
            public String hook() {
                return hook;
            }

            @Override
            public boolean inMemory() {
                return true;
            }

            @Override
            public void scan(int batchRows, BatchVisitor visitor) {
                long n = f.size(0);
                if (batchRows >= n) {
                    visitor.visit(0, f);
                    return;
                }
                for (long from = 0; from < n; from += batchRows) {
                    long to = Math.min(n, from + batchRows);
                    visitor.visit(from, f.get(NDArrayIndex.interval(from, to), NDArrayIndex.all()));
                }
            }
        };
    }

    /** Rows in memory, described as "activations". */
    static RowSource of(INDArray x) {
        return of(x, "activations");
    }
}
