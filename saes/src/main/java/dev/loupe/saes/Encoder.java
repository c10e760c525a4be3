package dev.loupe.saes;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The encoder's affine map, {@code x @ W + b}, as one GEMM into a buffer that already holds the bias. */
public final class Encoder {
    private Encoder() {}

    /** {@code x @ w + b}: x [n, d_in], w [d_in, d_sae] (any order), b [d_sae] → [n, d_sae] c order. */
    public static INDArray pre(INDArray x, INDArray w, INDArray b) {
        long n = x.size(0), dSae = w.size(1);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {n, dSae}, 'c');
        out.assign(b.reshape(1, dSae).broadcast(n, dSae));
        Nd4j.gemm(x, w, out, false, false, 1.0, 1.0);
        return out;
    }
}
