package dev.loupe.engine.generate;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Turns one step's logits [batch, d_vocab] into one token per sequence, as a {@link SamplingConfig}
 * says. The filtering (temperature, top-k, top-p, softmax) runs on ND4J arrays over the whole batch;
 * only the final argmax / categorical draw walks each row in Java.
 *
 * <p>Every row draws from its own random stream, split from {@code new SplittableRandom(seed)} in row
 * order. A row's samples therefore do not depend on when the other rows stop, and row 0 of a batch
 * draws the same numbers as a batch of one with the same seed.
 *
 * <p>Work is in float64 whatever the model's dtype: a small temperature must not overflow, and the
 * cumulative sums the draw searches should not lose the tail of a 50k-token vocabulary.
 */
final class Sampler {
    private final SamplingConfig cfg;
    private final SplittableRandom[] rows;

    Sampler(SamplingConfig cfg, int batch) {
        this.cfg = cfg;
        SplittableRandom root = new SplittableRandom(cfg.seed());
        rows = new SplittableRandom[batch];
        for (int b = 0; b < batch; b++) rows[b] = root.split();
    }

    /**
     * The next token of every active row (-1 for inactive ones, which draw no random numbers).
     *
     * @param logits [batch, d_vocab]
     * @param step   only for error messages
     */
    int[] next(INDArray logits, boolean[] active, int step) {
        int[] out = new int[rows.length];
        Arrays.fill(out, -1);
        if (cfg.isGreedy()) {
            double[][] l = logits.castTo(DataType.DOUBLE).toDoubleMatrix();
            for (int b = 0; b < out.length; b++) if (active[b]) out[b] = argmax(l[b], b, step);
            return out;
        }
        // Cumulative sums of the filtered distribution; a draw is a search for u * total in its row.
        double[][] cum = distribution(logits).cumsum(1).toDoubleMatrix();
        for (int b = 0; b < out.length; b++) {
            if (!active[b]) continue;
            double[] c = cum[b];
            double total = c[c.length - 1];
            if (!(total > 0) || Double.isInfinite(total))
                throw new LoupeException("generate: step " + step + ", sequence " + b
                        + ": the sampling distribution is not finite (logits contain NaN or +inf)");
            out[b] = firstAbove(c, rows[b].nextDouble() * total);
        }
        return out;
    }

    /**
     * The distribution tokens are drawn from, [batch, d_vocab] float64: softmax(logits / T) restricted
     * by top-k and top-p and renormalised. Ties at a cut-off are all kept, so that the kept set never
     * depends on how the sort orders equal values.
     */
    INDArray distribution(INDArray logits) {
        if (cfg.isGreedy()) throw new IllegalStateException("greedy decoding has no distribution");
        long vocab = logits.size(1);
        INDArray x = logits.castTo(DataType.DOUBLE).dup().divi(cfg.temperature());
        if (cfg.topK() > 0 && cfg.topK() < vocab) {
            INDArray kth = Nd4j.sort(x.dup(), 1, false).getColumn(cfg.topK() - 1, true); // [batch, 1]
            x.addi(keepMask(x.subColumnVector(kth).gte(0)));
        }
        INDArray probs = softmax(x);
        if (cfg.topP() < 1) {
            INDArray sorted = Nd4j.sort(probs.dup(), 1, false); // descending
            // Sorted token i is kept when the mass before it is < p, i.e. up to and including the
            // first token whose cumulative mass reaches p: count(cum < p) + 1 tokens.
            double[] below = sorted.cumsum(1)
                    .lt(cfg.topP())
                    .castTo(DataType.DOUBLE)
                    .sum(1)
                    .toDoubleVector();
            INDArray threshold = Nd4j.createUninitialized(DataType.DOUBLE, probs.size(0), 1);
            for (int b = 0; b < below.length; b++) {
                long kept = Math.min(vocab, (long) below[b] + 1);
                threshold.putScalar(b, 0, sorted.getDouble(b, kept - 1));
            }
            x.addi(keepMask(probs.subColumnVector(threshold).gte(0)));
            probs = softmax(x);
        }
        return probs;
    }

    /** 0 where {@code keep} is true, -inf elsewhere: added to logits it removes tokens. */
    private static INDArray keepMask(INDArray keep) {
        return Transforms.log(keep.castTo(DataType.DOUBLE), false);
    }

    private static INDArray softmax(INDArray x) {
        INDArray out = Nd4j.createUninitialized(x.dataType(), x.shape());
        Nd4j.exec(new SoftMax(x, out, 1));
        return out;
    }

    /**
     * Argmax with the lowest id winning ties. Written out rather than {@code Nd4j.argMax}, whose
     * choice among equal maxima is not specified (and its CPU reduction runs in parallel).
     */
    private static int argmax(double[] row, int b, int step) {
        int best = 0;
        for (int i = 0; i < row.length; i++) {
            if (Double.isNaN(row[i]))
                throw new LoupeException(
                        "generate: step " + step + ", sequence " + b + ": logit of token " + i + " is NaN");
            if (row[i] > row[best]) best = i;
        }
        return best;
    }

    /** The first index whose cumulative sum exceeds u; never a zero-probability token. */
    private static int firstAbove(double[] cum, double u) {
        int lo = 0, hi = cum.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (cum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }
}
