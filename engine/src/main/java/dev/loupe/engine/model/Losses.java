package dev.loupe.engine.model;

import dev.loupe.engine.autograd.Tensor;
import dev.loupe.engine.autograd.TransformerKernels;

/** Differentiable losses over model outputs. */
public final class Losses {
    private Losses() {}

    /** Marks a position that has no target in {@link #crossEntropy}. */
    public static final int IGNORE = -1;

    /**
     * Mean next-token cross-entropy, as TransformerLens's {@code lm_cross_entropy_loss}: position
     * p predicts token p+1; pairs that touch padding are left out.
     */
    public static Tensor nextToken(Tensor logits, Tokens tokens) {
        return crossEntropy(logits, nextTokenTargets(tokens));
    }

    /** The target of every position for next-token prediction, {@link #IGNORE} where there is none. */
    public static int[][] nextTokenTargets(Tokens tokens) {
        int B = tokens.batch(), T = tokens.length();
        int[][] targets = new int[B][T];
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++)
                targets[b][p] =
                        p + 1 < T && tokens.isToken(b, p) && tokens.isToken(b, p + 1) ? tokens.ids()[b][p + 1] : IGNORE;
        return targets;
    }

    /**
     * Mean cross-entropy of the logits [batch, pos, d_vocab] against one target token per position
     * ({@code targets[b][p]}, or {@link #IGNORE}), over the positions that have a target.
     */
    public static Tensor crossEntropy(Tensor logits, int[][] targets) {
        return crossEntropy(logits, targets, countTargets(targets));
    }

    /**
     * The sum of the cross-entropies at the positions that have a target, divided by
     * {@code positions}: for one shard of a batch, its part of the batch's mean.
     */
    public static Tensor crossEntropy(Tensor logits, int[][] targets, long positions) {
        return perPosition(logits, targets).sum().mul(1.0 / Math.max(1, positions));
    }

    /** How many positions have a target (are not {@link #IGNORE}). */
    public static long countTargets(int[][] targets) {
        long counted = 0;
        for (int[] row : targets) for (int t : row) if (t != IGNORE) counted++;
        return counted;
    }

    /** Cross-entropy of each prediction, [batch, pos - 1]; 0 where padding is involved. */
    public static Tensor perPosition(Tensor logits, Tokens tokens) {
        int T = tokens.length();
        return perPosition(logits, nextTokenTargets(tokens)).slice(1, 0, T - 1);
    }

    /** Cross-entropy at each position, [batch, pos]; 0 where the target is {@link #IGNORE}. */
    public static Tensor perPosition(Tensor logits, int[][] targets) {
        int B = (int) logits.size(0), T = (int) logits.size(1);
        long V = logits.size(2);
        if (targets.length != B || (B > 0 && targets[0].length != T))
            throw new IllegalArgumentException("targets are [" + targets.length + ", " + (B > 0 ? targets[0].length : 0)
                    + "], logits [" + B + ", " + T + ", " + V + "]");
        long[] picked = new long[B * T];
        double[] weight = new double[B * T];
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++) {
                int t = targets[b][p];
                if (t == IGNORE) continue;
                if (t < 0 || t >= V)
                    throw new IllegalArgumentException(
                            "target " + t + " at [" + b + ", " + p + "] is outside the vocabulary of " + V);
                picked[b * T + p] = t;
                weight[b * T + p] = 1;
            }
        return TransformerKernels.crossEntropyLast(logits, picked, weight);
    }
}
