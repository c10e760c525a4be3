package dev.loupe.engine.train.tasks;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.analysis.HeadScores;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.train.TaskBatch;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import tech.tablesaw.api.Table;

/**
 * Sequences of random tokens in which a random segment repeats, trained with next-token loss:
 * the only predictable tokens are those inside the repeat, and predicting them takes an induction
 * circuit (a previous-token head in one layer, an induction head in the next).
 *
 * <p>Each sequence is {@code [bos, random tokens...]} of length {@code seqLen}; a segment of
 * {@code seqLen/8} to {@code (seqLen-1)/2} tokens is copied to a later, non-overlapping place.
 * Tokens are drawn from {@code [1, dVocab)}; id 0 is BOS.
 *
 * @param dVocab vocabulary size (token 0 is BOS)
 * @param seqLen sequence length (at most the model's context)
 */
public record InductionTask(int dVocab, int seqLen) implements Task {
    public static final int BOS = 0;

    public InductionTask {
        if (dVocab < 3) throw new LoupeException("induction task: d_vocab must be >= 3, got " + dVocab);
        if (seqLen < 9) throw new LoupeException("induction task: seq_len must be >= 9, got " + seqLen);
    }

    @Override
    public String name() {
        return "induction";
    }

    @Override
    public TaskBatch batch(int batchSize, SplittableRandom rng) {
        int[][] ids = new int[batchSize][seqLen];
        int body = seqLen - 1;
        for (int[] row : ids) {
            row[0] = BOS;
            for (int i = 1; i < seqLen; i++) row[i] = 1 + rng.nextInt(dVocab - 1);
            int len = rng.nextInt(Math.max(2, body / 8), body / 2 + 1); // segment length
            int src = 1 + rng.nextInt(body - 2 * len + 1); // segment [src, src+len)
            int dst = src + len + rng.nextInt(body - (src - 1) - 2 * len + 1); // copy   [dst, dst+len)
            System.arraycopy(row, src, row, dst, len);
        }
        return TaskBatch.nextToken(Tokens.of(ids));
    }

    @Override
    public void validate(ModelConfig model, int batchSize) {
        if (seqLen > model.nCtx())
            throw new LoupeException(
                    "induction task: seq_len " + seqLen + " is longer than the model's n_ctx " + model.nCtx());
        if (dVocab > model.dVocab())
            throw new LoupeException(
                    "induction task: d_vocab " + dVocab + " is larger than the model's d_vocab " + model.dVocab());
    }

    /**
     * Loss on the first and the repeated half of {@code [BOS, r, r]} sequences, and the best
     * previous-token (layer 0) and induction (later layers) head scores.
     */
    @Override
    public Map<String, Double> evaluate(HookedTransformer model) {
        int half = (Math.min(seqLen, model.config().nCtx()) - 1) / 2;
        Tokens repeated = HeadScores.repeatedRandomTokens(32, half, dVocab, BOS, 12345);
        Map<String, Double> out = new LinkedHashMap<>();
        Table scores;
        try (ForwardResult r = model.runWithCache(repeated, HeadScores.PATTERNS);
                Graph g = Graph.inference()) {
            double[] perPos = Losses.perPosition(g.constant(r.logits()), repeated)
                    .data()
                    .mean(0)
                    .toDoubleVector();
            double first = 0, second = 0;
            for (int p = 0; p < half; p++) first += perPos[p] / half; // predicting r_2..r_n, then r_1 (random)
            for (int p = half; p < 2 * half; p++) second += perPos[p] / half; // predicting the repeat
            out.put("loss_first_half", first);
            out.put("loss_repeated_half", second);
            scores = HeadScores.fromCache(r.cache(), model.config().nLayers(), half);
        }
        int layers = model.config().nLayers();
        out.put(
                "max_previous_token_score_l0",
                scores.doubleColumn("previous_token").get(HeadScores.best(scores, "previous_token", 0, 1)));
        out.put(
                "max_induction_score",
                layers < 2 ? 0 : scores.doubleColumn("induction").get(HeadScores.best(scores, "induction", 1, layers)));
        return out;
    }
}
