package dev.loupe.saes.kernels;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * BLAS level 1 on rows of dense float32 matrices: {@code y[i] += a x[j]} and {@code x[i] · y[j]}.
 * OpenBLAS's {@code cblas_saxpy}/{@code cblas_sdot} (the library ND4J's CPU backend already loads)
 * when it is on the class path; plain Java loops otherwise (ND4J's CUDA backend, where this is slow
 * but correct). One instance per thread: it keeps movable pointers into two matrices.
 */
final class RowBlas {
    private static final boolean OPENBLAS_LOADS = openBlasLoads();
    /** Tests set this to run the Java loops where OpenBLAS is available. */
    static volatile boolean forceJava = false;

    private final boolean openBlas;
    private final int d;
    private final FloatPointer xp, yp;
    private final FloatBuffer xb, yb;
    private FloatPointer zeros; // a row of zeros to copy from (javacpp's memset takes positions in bytes)

    /** Rows of {@code x} and {@code y}, both with {@code d} columns. */
    RowBlas(INDArray x, INDArray y) {
        this.d = (int) x.size(1);
        if (y.size(1) != d) throw new IllegalArgumentException("rows of " + d + " and " + y.size(1));
        this.openBlas = OPENBLAS_LOADS && !forceJava;
        if (openBlas) {
            xp = new FloatPointer(new PagedPointer(NativeFloats.address(x)));
            yp = new FloatPointer(new PagedPointer(NativeFloats.address(y)));
            xb = yb = null;
        } else {
            xb = NativeFloats.of(x);
            yb = NativeFloats.of(y);
            xp = yp = null;
        }
    }

    static boolean usesOpenBlas() {
        return OPENBLAS_LOADS && !forceJava;
    }

    /** {@code y[yRow] += alpha * x[xRow]}. */
    void axpy(float alpha, int xRow, int yRow) {
        if (openBlas) {
            org.bytedeco.openblas.global.openblas.cblas_saxpy(
                    d, alpha, xp.position((long) xRow * d), 1, yp.position((long) yRow * d), 1);
        } else {
            int xo = xRow * d, yo = yRow * d;
            for (int i = 0; i < d; i++) yb.put(yo + i, yb.get(yo + i) + alpha * xb.get(xo + i));
        }
    }

    /** {@code y[yRow] = 0}. */
    void zeroY(int yRow) {
        if (openBlas) {
            if (zeros == null) zeros = new FloatPointer(d).zero();
            org.bytedeco.openblas.global.openblas.cblas_scopy(d, zeros, 1, yp.position((long) yRow * d), 1);
        } else for (int i = 0, o = yRow * d; i < d; i++) yb.put(o + i, 0f);
    }

    /** {@code x[xRow] · y[yRow]}. */
    float dot(int xRow, int yRow) {
        if (openBlas)
            return org.bytedeco.openblas.global.openblas.cblas_sdot(
                    d, xp.position((long) xRow * d), 1, yp.position((long) yRow * d), 1);
        int xo = xRow * d, yo = yRow * d;
        float s = 0;
        for (int i = 0; i < d; i++) s += xb.get(xo + i) * yb.get(yo + i);
        return s;
    }

    private static boolean openBlasLoads() {
        if (Boolean.getBoolean("loupe.saes.javaKernels")) return false;
        try {
            Class.forName("org.bytedeco.openblas.global.openblas", true, RowBlas.class.getClassLoader());
            return true;
        } catch (Throwable e) {
            return false;
        }
    }
}
