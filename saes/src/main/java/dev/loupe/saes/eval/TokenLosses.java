package dev.loupe.saes.eval;

import dev.loupe.engine.model.Tokens;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Next-token cross-entropy and KL divergence per position, from logits, in double precision. */
final class TokenLosses {
    private TokenLosses() {}

    /** log_softmax over the last dimension of [B, T, V], as double. */
    static INDArray logSoftmax(INDArray logits) {
        INDArray l = logits.castTo(DataType.DOUBLE);
        long b = l.size(0), t = l.size(1), v = l.size(2);
        INDArray rows = l.reshape('c', b * t, v);
        INDArray max = rows.max(1).reshape(b * t, 1);
        INDArray shifted = rows.subColumnVector(max);
        INDArray lse =
                Transforms.log(Transforms.exp(shifted, true).sum(1), false).reshape(b * t, 1);
        return shifted.subiColumnVector(lse).reshape('c', b, t, v);
    }

    /**
     * TransformerLens's {@code loss_per_token}: the cross-entropy of position p predicting token p+1,
     * [B, T-1] (0 where either position is padding).
     */
    static double[][] crossEntropy(INDArray logProbs, Tokens tokens) {
        int[][] ids = tokens.ids();
        int b = tokens.batch(), t = tokens.length();
        double[][] out = new double[b][t - 1];
        for (int i = 0; i < b; i++)
            for (int p = 0; p + 1 < t; p++)
                if (tokens.isToken(i, p) && tokens.isToken(i, p + 1))
                    out[i][p] = -logProbs.getDouble(i, p, ids[i][p + 1]);
        return out;
    }

    /** KL(original ‖ new) per position [B, T]: {@code Σ_v p_orig (log p_orig - log p_new)}. */
    static INDArray kl(INDArray logOriginal, INDArray logNew) {
        INDArray p = Transforms.exp(logOriginal, true);
        return p.muli(logOriginal.sub(logNew)).sum(2);
    }

    /** {@code a[:, from:to]} of a [B, T, ...] array. */
    static INDArray positions(INDArray a, long from, long to) {
        return a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to));
    }
}
