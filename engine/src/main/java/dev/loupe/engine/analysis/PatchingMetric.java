package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.autograd.Tensor;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.Arrays;
import java.util.function.ToDoubleFunction;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * TransformerLens's {@code patching_metric}: a scalar of one run's logits {@code [batch, pos,
 * d_vocab]}, where batch is the prompts of one patch (not the many patches Loupe runs at once).
 * Written once, as {@link Tensor} ops, so that the same definition gives the value for activation
 * patching and the gradient for attribution patching. A metric from a plain Java function
 * ({@link #of}) has a value but no gradient.
 */
public interface PatchingMetric {

    /** The metric of one run's logits, differentiable when {@code logits} is. */
    Tensor apply(Tensor logits);

    /** What the metric is, for errors and tables ("logit_diff", "loss", ...). */
    default String name() {
        return "metric";
    }

    /** Checks the metric's arguments against the model and the prompts before any run (ids in range, ...). */
    default void check(ModelConfig config, Tokens prompts) {}

    /**
     * Whether {@link #apply} reads only the last position's logits (logit difference, KL): then the
     * patched runs unembed that position alone. A metric that says so must give the same value on
     * logits {@code [batch, 1, d_vocab]} holding just the last position.
     */
    default boolean readsLastPositionOnly() {
        return false;
    }

    /** Whether {@link #apply} can be differentiated (attribution patching needs it). */
    default boolean differentiable() {
        return true;
    }

    /** The value on given logits [batch, pos, d_vocab]. */
    default double value(INDArray logits) {
        try (Graph g = Graph.inference()) {
            return apply(g.constant(logits)).item();
        }
    }

    /**
     * {@code logits[b, last, answer[b]] - logits[b, last, wrong[b]]}, averaged over the batch: the
     * IOI paper's logit difference. One id for every prompt, or one per prompt.
     */
    static PatchingMetric logitDiff(int answer, int wrong) {
        return logitDiff(new int[] {answer}, new int[] {wrong});
    }

    /** {@link #logitDiff(int, int)} with one answer and one wrong id per prompt. */
    static PatchingMetric logitDiff(int[] answers, int[] wrongs) {
        if (answers.length == 0 || answers.length != wrongs.length)
            throw new LoupeException("logit difference: " + answers.length + " answer ids and " + wrongs.length
                    + " wrong ids; give one of each per prompt (or one for all)");
        int[] a = answers.clone(), w = wrongs.clone();
        return new PatchingMetric() {
            @Override
            public Tensor apply(Tensor logits) {
                int b = (int) logits.size(0);
                Tensor last = lastPosition(logits); // [b, 1, vocab]
                return last.pickLast(perRow(a, b, "answer"))
                        .sub(last.pickLast(perRow(w, b, "wrong")))
                        .mean();
            }

            @Override
            public void check(ModelConfig config, Tokens prompts) {
                checkIds("answer", a, config, prompts);
                checkIds("wrong", w, config, prompts);
            }

            @Override
            public String name() {
                return "logit_diff";
            }

            @Override
            public boolean readsLastPositionOnly() {
                return true;
            }
        };
    }

    /**
     * The normalised patching metric of TransformerLens's tutorials: {@code (m - corrupted) / (clean -
     * corrupted)}, 0 when the patched run scores like the corrupted run and 1 when it scores like the
     * clean one. {@code clean} and {@code corrupted} are {@code metric}'s values on the two unpatched runs.
     */
    static PatchingMetric normalized(PatchingMetric metric, double clean, double corrupted) {
        if (!Double.isFinite(clean) || !Double.isFinite(corrupted) || clean == corrupted)
            throw new LoupeException("normalized metric: the clean (" + clean + ") and corrupted (" + corrupted
                    + ") values of " + metric.name() + " must be finite and differ");
        return new PatchingMetric() {
            @Override
            public Tensor apply(Tensor logits) {
                return metric.apply(logits).add(-corrupted).mul(1 / (clean - corrupted));
            }

            @Override
            public void check(ModelConfig config, Tokens prompts) {
                metric.check(config, prompts);
            }

            @Override
            public boolean differentiable() {
                return metric.differentiable();
            }

            @Override
            public String name() {
                return "normalized_" + metric.name();
            }

            @Override
            public boolean readsLastPositionOnly() {
                return metric.readsLastPositionOnly();
            }
        };
    }

    /**
     * Mean next-token cross-entropy of the run's predictions against {@code targets} (for patching:
     * usually the clean tokens), at the positions {@code from} (inclusive) to {@code to} (exclusive)
     * that predict a next token: position p is scored on {@code targets[b][p + 1]}.
     */
    static PatchingMetric loss(Tokens targets, int from, int to) {
        int T = targets.length();
        if (from < 0 || to > T - 1 || from >= to)
            throw new LoupeException("loss metric: positions [" + from + ", " + to + ") must lie in 0.." + (T - 1)
                    + " (the last position predicts nothing)");
        int[][] target = Losses.nextTokenTargets(targets);
        for (int[] row : target) {
            Arrays.fill(row, 0, from, Losses.IGNORE);
            Arrays.fill(row, to, T, Losses.IGNORE);
        }
        return new PatchingMetric() {
            @Override
            public Tensor apply(Tensor logits) {
                if (logits.size(0) != target.length || logits.size(1) != T)
                    throw new LoupeException("loss metric: logits " + Arrays.toString(logits.shape())
                            + " do not match the target tokens [" + target.length + ", " + T + "]");
                return Losses.crossEntropy(logits, target);
            }

            @Override
            public void check(ModelConfig config, Tokens prompts) {
                if (prompts.batch() != targets.batch() || prompts.length() != T)
                    throw new LoupeException("loss metric: target tokens are [" + targets.batch() + ", " + T
                            + "] but the prompts are [" + prompts.batch() + ", " + prompts.length() + "]");
                for (int[] row : target)
                    for (int t : row)
                        if (t != Losses.IGNORE && (t < 0 || t >= config.dVocab()))
                            throw new LoupeException("loss metric: target token " + t + " is outside the vocabulary 0.."
                                    + (config.dVocab() - 1));
            }

            @Override
            public String name() {
                return "loss";
            }
        };
    }

    /** {@link #loss(Tokens, int, int)} over every position that predicts a next token. */
    static PatchingMetric loss(Tokens targets) {
        return loss(targets, 0, targets.length() - 1);
    }

    /**
     * KL divergence {@code KL(reference || run)} of the next-token distributions at the last
     * position, averaged over the batch: 0 when the run predicts exactly as the reference did.
     * {@code referenceLogits} is [batch, pos, d_vocab] (the clean run's logits, say).
     */
    static PatchingMetric kl(INDArray referenceLogits) {
        if (referenceLogits.rank() != 3)
            throw new LoupeException("KL metric: reference logits must be [batch, pos, d_vocab], got "
                    + Arrays.toString(referenceLogits.shape()));
        long T = referenceLogits.size(1);
        INDArray lastRef = referenceLogits
                .get(NDArrayIndex.all(), NDArrayIndex.interval(T - 1, T), NDArrayIndex.all())
                .castTo(DataType.DOUBLE);
        INDArray refLogProbs;
        try (Graph g = Graph.inference()) {
            Tensor lp = g.constant(lastRef.dup()).logSoftmaxLast();
            g.keep(lp.data());
            refLogProbs = lp.data();
        }
        INDArray refProbs = org.nd4j.linalg.ops.transforms.Transforms.exp(refLogProbs, true);
        // sum p log p, the reference's negative entropy: a constant of the divergence
        double negEntropy = refProbs.mul(refLogProbs).sumNumber().doubleValue();
        return new PatchingMetric() {
            @Override
            public Tensor apply(Tensor logits) {
                if (logits.size(0) != refProbs.size(0) || logits.size(2) != refProbs.size(2))
                    throw new LoupeException("KL metric: logits " + Arrays.toString(logits.shape())
                            + " do not match the reference " + Arrays.toString(referenceLogits.shape()));
                Tensor logQ = lastPosition(logits).logSoftmaxLast(); // [b, 1, vocab]
                Tensor p = logits.graph().constant(refProbs.castTo(logits.data().dataType()));
                double b = logits.size(0);
                return p.mul(logQ).sum().mul(-1 / b).add(negEntropy / b);
            }

            @Override
            public String name() {
                return "kl";
            }

            @Override
            public boolean readsLastPositionOnly() {
                return true;
            }
        };
    }

    /**
     * A metric from a differentiable function of the logits [batch, pos, d_vocab] (a scalar tensor):
     * it serves activation and attribution patching alike.
     */
    static PatchingMetric differentiable(String name, UnaryOperator<Tensor> fn) {
        return new PatchingMetric() {
            @Override
            public Tensor apply(Tensor logits) {
                return fn.apply(logits);
            }

            @Override
            public String name() {
                return name;
            }
        };
    }

    /**
     * A metric from any Java function of the logits [batch, pos, d_vocab] (an ND4J array to read,
     * not modify). It has a value but no gradient: attribution patching refuses it.
     */
    static PatchingMetric of(String name, ToDoubleFunction<INDArray> fn) {
        return new PatchingMetric() {
            @Override
            public Tensor apply(Tensor logits) {
                double v = fn.applyAsDouble(logits.data());
                return logits.graph().constant(Nd4j.scalar(logits.data().dataType(), v));
            }

            @Override
            public double value(INDArray logits) {
                return fn.applyAsDouble(logits);
            }

            @Override
            public boolean differentiable() {
                return false;
            }

            @Override
            public String name() {
                return name;
            }
        };
    }

    /** [batch, 1, d_vocab]: the logits of the last position. */
    private static Tensor lastPosition(Tensor logits) {
        long T = logits.size(1);
        return logits.slice(1, T - 1, T);
    }

    private static long[] perRow(int[] ids, int batch, String what) {
        if (ids.length != 1 && ids.length != batch)
            throw new LoupeException("logit difference: " + ids.length + " " + what + " ids for " + batch + " prompts");
        long[] out = new long[batch];
        for (int b = 0; b < batch; b++) out[b] = ids[ids.length == 1 ? 0 : b];
        return out;
    }

    private static void checkIds(String what, int[] ids, ModelConfig config, Tokens prompts) {
        if (ids.length != 1 && ids.length != prompts.batch())
            throw new LoupeException("logit difference: " + ids.length + " " + what + " ids for " + prompts.batch()
                    + " prompts (give one, or one per prompt)");
        for (int id : ids)
            if (id < 0 || id >= config.dVocab())
                throw new LoupeException("logit difference: " + what + " id " + id + " is outside the vocabulary 0.."
                        + (config.dVocab() - 1));
    }
}
