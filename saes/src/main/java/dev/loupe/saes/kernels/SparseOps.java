package dev.loupe.saes.kernels;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What TopK and BatchTopK training do with sparse codes, without ever making them dense: decoding
 * ({@code acts @ W_dec}), the gradient of the codes ({@code grad_out @ W_dec^T} at the entries only) and
 * the gradient of a weight matrix ({@code acts^T @ grad_out}, row by row of the latents that fired).
 * Each is one BLAS level-1 call per entry: with k = 32 of 16384 latents that is 1/512 of the dense
 * GEMM's arithmetic. All matrices are dense, c-ordered float32; results are the same whatever the
 * number of threads (every output row is summed by one thread in entry order).
 */
public final class SparseOps {
    private SparseOps() {}

    /** True when the kernels call OpenBLAS (else they run as Java loops). */
    public static boolean openBlas() {
        return RowBlas.usesOpenBlas();
    }

    /** {@code out[b] += Σ_e coef[e] · w[index[e]]} over row b's entries; out [rows, d], w [d_sae, d]. */
    public static void decodeInto(SparseCodes codes, float[] coef, INDArray w, INDArray out) {
        int[] start = codes.rowStart(), index = codes.index();
        long perRow = (long) codes.size() / Math.max(1, codes.rows()) * w.size(1);
        Parallel.forRange(codes.rows(), perRow, (from, to) -> {
            RowBlas blas = new RowBlas(w, out);
            for (int b = from; b < to; b++)
                for (int e = start[b]; e < start[b + 1]; e++) if (coef[e] != 0) blas.axpy(coef[e], index[e], b);
        });
        NativeFloats.written(out);
    }

    /** Per entry, {@code g[row(e)] · w[index[e]]}; g [rows, d], w [d_sae, d]. */
    public static float[] entryDots(SparseCodes codes, INDArray g, INDArray w) {
        int[] start = codes.rowStart(), index = codes.index();
        float[] out = new float[codes.size()];
        long perRow = (long) codes.size() / Math.max(1, codes.rows()) * w.size(1);
        Parallel.forRange(codes.rows(), perRow, (from, to) -> {
            RowBlas blas = new RowBlas(w, g);
            for (int b = from; b < to; b++)
                for (int e = start[b]; e < start[b + 1]; e++) out[e] = blas.dot(index[e], b);
        });
        return out;
    }

    /**
     * {@code grad[f] (+)= Σ_{e of latent f} coef[e] · x[row(e)]}: the gradient of a [d_sae, d] weight whose
     * rows multiply (or are multiplied by) the codes. With {@code overwrite}, every row of {@code grad} is
     * first set to 0 (rows of latents without entries included), which spares zeroing the whole matrix
     * in a separate pass. Latents are split over threads; within a latent entries are summed in row order.
     */
    public static void scatterRows(
            SparseCodes codes,
            SparseCodes.LatentIndex byLatent,
            int[] entryRows,
            float[] coef,
            INDArray x,
            INDArray grad,
            boolean overwrite) {
        int[] start = byLatent.latentStart(), order = byLatent.order();
        long perLatent = ((long) codes.size() / Math.max(1, codes.dSae()) + 1) * x.size(1);
        Parallel.forRange(codes.dSae(), perLatent, (from, to) -> {
            RowBlas blas = new RowBlas(x, grad);
            for (int f = from; f < to; f++) {
                if (overwrite) blas.zeroY(f);
                for (int i = start[f]; i < start[f + 1]; i++) {
                    int e = order[i];
                    if (coef[e] != 0) blas.axpy(coef[e], entryRows[e], f);
                }
            }
        });
        NativeFloats.written(grad);
    }

    /** Per latent, the sum of {@code coef} over its entries, in row order. */
    public static float[] latentSums(SparseCodes.LatentIndex byLatent, float[] coef, int dSae) {
        int[] start = byLatent.latentStart(), order = byLatent.order();
        float[] out = new float[dSae];
        for (int f = 0; f < dSae; f++) {
            float s = 0;
            for (int i = start[f]; i < start[f + 1]; i++) s += coef[order[i]];
            out[f] = s;
        }
        return out;
    }
}
