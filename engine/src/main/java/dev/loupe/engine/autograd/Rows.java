package dev.loupe.engine.autograd;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scatter.ScatterUpdate;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Arrays seen as c-ordered [rows, cols] matrices, and the row-wise BLAS tricks the ops share: row
 * sums and dots as one GEMV, column sums as one GEMM, flat gathers and scatter-adds.
 */
final class Rows {
    private Rows() {}

    /**
     * Whether an array is dense and c-ordered, so that its linear index is its buffer index. A
     * reshape of a dense array counts as a view in ND4J but is dense.
     */
    static boolean dense(INDArray a) {
        if (a.ordering() != 'c' || a.offset() != 0 || a.length() != a.data().length()) return false;
        // Shape.hasDefaultStridesForShape rejects what ND4J itself creates for size-1 dimensions
        // ([1, 1, 4] gets strides [4, 4, 1]); a size-1 dimension's stride is never used.
        long[] shape = a.shape(), stride = a.stride();
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /**
     * A c-ordered [rows, cols] view (or copy, when the layout requires one) of an array: for reading.
     * Ops write into arrays they allocate in this shape and reshape those.
     */
    static INDArray rows(INDArray a, long cols) {
        INDArray c = dense(a) ? a : a.dup('c');
        return c.reshape('c', c.length() / cols, cols);
    }

    /**
     * m [rows, n] times v [n], as [rows, 1]: row sums, means and dots as one GEMV, which took a
     * sixth of the time of ND4J's row reductions (22 vs 136 µs for a [2048, 128] mean).
     */
    static INDArray rowDot(INDArray m, INDArray v) {
        INDArray out = Nd4j.createUninitialized(m.dataType(), m.size(0));
        Nd4j.getBlasWrapper().level2().gemv('c', 'N', 1.0, m, v, 0.0, out);
        return out.reshape('c', m.size(0), 1);
    }

    /** Sums of the columns of a c-ordered [rows, cols] matrix, as [1, cols]. */
    static INDArray columnSums(INDArray m) {
        INDArray ones = Nd4j.ones(m.dataType(), 1, m.size(0));
        INDArray out = Nd4j.createUninitialized(m.dataType(), 1, m.size(1));
        Nd4j.gemm(ones, m, out, false, false, 1.0, 0.0);
        return out;
    }

    /** Elements {@code at} of an array's flat (c-order) values, as [at.length, 1]: the inverse of {@link #scatterAddRows} on a column. */
    static INDArray gatherFlat(INDArray a, int[] at) {
        return Nd4j.pullRows(rows(a, 1), 1, at);
    }

    /** Adds row i of {@code updates} to row {@code index[i]} of {@code into} (repeated indices add up); returns {@code into}. */
    static INDArray scatterAddRows(INDArray into, INDArray index, INDArray updates) {
        Nd4j.scatterUpdate(ScatterUpdate.UpdateOp.ADD, into, index, updates, 1);
        return into;
    }

    /** Flat index r * n + index[r] of each row's picked element, checked ({@code op} names the caller in errors). */
    static int[] flatIndices(String op, long[] index, long n) {
        int[] at = new int[index.length];
        for (int r = 0; r < index.length; r++) {
            if (index[r] < 0 || index[r] >= n)
                throw new IllegalArgumentException(op + ": index " + index[r] + " outside [0, " + n + ")");
            at[r] = Math.toIntExact(r * n + index[r]);
        }
        return at;
    }
}
