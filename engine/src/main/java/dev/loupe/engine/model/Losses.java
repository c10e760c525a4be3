package dev.loupe.engine.model;

import dev.loupe.engine.autograd.Tensor;
import org.nd4j.linalg.factory.Nd4j;

/** Differentiable losses over model outputs. */
public final class Losses {
    private Losses() {
    }

    /**
     * Mean next-token cross-entropy, as TransformerLens's {@code lm_cross_entropy_loss}: position
     * p predicts token p+1; pairs that touch padding are left out.
     */
    public static Tensor nextToken(Tensor logits, Tokens tokens) {
        int counted = 0;
        for (int b = 0; b < tokens.batch(); b++)
            for (int p = 0; p + 1 < tokens.length(); p++)
                if (tokens.isToken(b, p) && tokens.isToken(b, p + 1)) counted++;
        return perPosition(logits, tokens).sum().mul(1.0 / Math.max(1, counted));
    }

    /** Cross-entropy of each prediction, [batch, pos - 1]; 0 where padding is involved. */
    public static Tensor perPosition(Tensor logits, Tokens tokens) {
        int B = tokens.batch(), T = tokens.length();
        long V = logits.size(2);
        Tensor logProbs = logits.reshape(B, T, V).slice(1, 0, T - 1).logSoftmaxLast();   // [B, T-1, V]
        long[] targets = new long[B * (T - 1)];
        double[] weight = new double[B * (T - 1)];
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T - 1; p++) {
                targets[b * (T - 1) + p] = tokens.ids()[b][p + 1];
                weight[b * (T - 1) + p] = tokens.isToken(b, p) && tokens.isToken(b, p + 1) ? -1 : 0;
            }
        Tensor w = logits.graph().constant(Nd4j.createFromArray(weight).castTo(logits.data().dataType())
                .reshape(B, T - 1));
        return logProbs.pickLast(targets).mul(w);
    }
}
