package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;

/**
 * Per-head attention scores that find the classic circuits, defined as in TransformerLens's
 * induction-heads tutorial, on a batch of repeated random tokens {@code [BOS, r_1..r_n, r_1..r_n]}:
 * <ul>
 *   <li><b>previous-token</b>: mean attention from each position to the one before it
 *       ({@code pattern.diagonal(-1).mean()});</li>
 *   <li><b>duplicate-token</b>: mean attention along the diagonal {@code -n}, from each token of the
 *       repeat to its earlier occurrence;</li>
 *   <li><b>induction</b>: mean attention along the diagonal {@code 1-n}, to the token after the
 *       earlier occurrence.</li>
 * </ul>
 * Scores are in [0, 1]; a head that does the job scores close to 1.
 */
public final class HeadScores {

    /** Caches exactly what the scores read: every layer's attention pattern. */
    public static final ActivationFilter PATTERNS = ActivationFilter.matching(n -> n.endsWith("attn.hook_pattern"));

    private HeadScores() {}

    /**
     * {@code batch} sequences {@code [bos, r_1..r_n, r_1..r_n]} with {@code r_i} drawn uniformly from
     * the vocabulary without {@code bos} (TransformerLens's {@code generate_repeated_tokens}).
     */
    public static Tokens repeatedRandomTokens(int batch, int seqLen, int dVocab, int bos, long seed) {
        if (batch < 1 || seqLen < 1)
            throw new LoupeException(
                    "repeated tokens: batch and seq_len must be >= 1, got " + batch + " and " + seqLen);
        if (bos < 0 || bos >= dVocab || dVocab < 2)
            throw new LoupeException(
                    "repeated tokens: bos " + bos + " must be a token of a vocabulary of at least 2, got " + dVocab);
        SplittableRandom rng = new SplittableRandom(seed);
        int[][] ids = new int[batch][1 + 2 * seqLen];
        for (int[] row : ids) {
            row[0] = bos;
            for (int i = 1; i <= seqLen; i++) {
                int t = rng.nextInt(dVocab - 1);
                row[i] = t >= bos ? t + 1 : t;
                row[i + seqLen] = row[i];
            }
        }
        return Tokens.of(ids);
    }

    /**
     * A copy of {@code tokens} with positions {@code from} (inclusive) to {@code to} (exclusive) of
     * every sequence drawn again uniformly from the vocabulary without {@code bos}: the corrupted
     * prompts of a patching experiment on repeated tokens (resample the second half, and nothing is
     * left to induct from).
     */
    public static Tokens resampled(Tokens tokens, int from, int to, int dVocab, int bos, long seed) {
        if (from < 0 || to > tokens.length() || from >= to)
            throw new LoupeException(
                    "resampled tokens: positions [" + from + ", " + to + ") must lie in 0.." + (tokens.length() - 1));
        SplittableRandom rng = new SplittableRandom(seed);
        int[][] ids = new int[tokens.batch()][];
        for (int b = 0; b < ids.length; b++) {
            ids[b] = tokens.ids()[b].clone();
            for (int p = from; p < to; p++) {
                int t = rng.nextInt(dVocab - 1);
                ids[b][p] = t >= bos ? t + 1 : t;
            }
        }
        return new Tokens(ids, tokens.mask());
    }

    /** [head] previous-token scores of one layer, from a cache holding {@code blocks.{layer}.attn.hook_pattern}. */
    public static INDArray previousToken(ActivationCache cache, int layer) {
        return diagonalMean(cache.get("pattern", layer), 1);
    }

    /** [head] duplicate-token scores of one layer on repeats of length {@code seqLen}. */
    public static INDArray duplicateToken(ActivationCache cache, int layer, int seqLen) {
        return diagonalMean(cache.get("pattern", layer), seqLen);
    }

    /** [head] induction scores of one layer on repeats of length {@code seqLen}. */
    public static INDArray induction(ActivationCache cache, int layer, int seqLen) {
        return diagonalMean(cache.get("pattern", layer), seqLen - 1);
    }

    /**
     * Every head's three scores on {@code batch} repeated random sequences of length {@code seqLen}
     * (which must fit the context: {@code 1 + 2 * seqLen <= n_ctx}). Columns: layer, head,
     * previous_token, duplicate_token, induction.
     */
    public static Table compute(HookedTransformer model, int bos, int seqLen, int batch, long seed) {
        int nCtx = model.config().nCtx();
        if (1 + 2 * seqLen > nCtx)
            throw new LoupeException("head scores: seq_len " + seqLen + " needs " + (1 + 2 * seqLen)
                    + " positions, the model's context is " + nCtx + " (use seq_len <= " + (nCtx - 1) / 2 + ")");
        if (seqLen < 2) throw new LoupeException("head scores: seq_len must be >= 2, got " + seqLen);
        Tokens tokens = repeatedRandomTokens(batch, seqLen, model.config().dVocab(), bos, seed);
        return compute(model, tokens, seqLen);
    }

    /** The score table on given repeated tokens {@code [batch, 1 + 2 * seqLen]} (see {@link #repeatedRandomTokens}). */
    public static Table compute(HookedTransformer model, Tokens repeated, int seqLen) {
        if (repeated.length() != 1 + 2 * seqLen)
            throw new LoupeException("head scores: tokens have " + repeated.length() + " positions, expected 1 + 2 * "
                    + seqLen + " = " + (1 + 2 * seqLen));
        try (ForwardResult r = model.runWithCache(repeated, PATTERNS)) {
            return fromCache(r.cache(), model.config().nLayers(), seqLen);
        }
    }

    /**
     * The score table from a run on repeated tokens whose cache holds the patterns of layers
     * {@code 0..nLayers-1} ({@link #PATTERNS}). Columns: layer, head, previous_token, duplicate_token, induction.
     */
    public static Table fromCache(ActivationCache cache, int nLayers, int seqLen) {
        IntColumn layer = IntColumn.create("layer"), head = IntColumn.create("head");
        DoubleColumn prev = DoubleColumn.create("previous_token"),
                dup = DoubleColumn.create("duplicate_token"),
                ind = DoubleColumn.create("induction");
        for (int l = 0; l < nLayers; l++) {
            double[] p = previousToken(cache, l).toDoubleVector();
            double[] d = duplicateToken(cache, l, seqLen).toDoubleVector();
            double[] i = induction(cache, l, seqLen).toDoubleVector();
            for (int h = 0; h < p.length; h++) {
                layer.append(l);
                head.append(h);
                prev.append(p[h]);
                dup.append(d[h]);
                ind.append(i[h]);
            }
        }
        return Table.create("head scores", layer, head, prev, dup, ind);
    }

    /** The row of {@code scores} with the highest {@code column} among heads of layers {@code fromLayer..toLayer-1}. */
    public static int best(Table scores, String column, int fromLayer, int toLayer) {
        int best = -1;
        for (int r = 0; r < scores.rowCount(); r++) {
            int l = scores.intColumn("layer").get(r);
            if (l >= fromLayer
                    && l < toLayer
                    && (best < 0
                            || scores.doubleColumn(column).get(r)
                                    > scores.doubleColumn(column).get(best))) best = r;
        }
        if (best < 0) throw new LoupeException("head scores: no head in layers " + fromLayer + ".." + (toLayer - 1));
        return best;
    }

    /** Mean over batch and positions of {@code pattern[b, h, q, q - offset]}: [head]. */
    static INDArray diagonalMean(INDArray pattern, int offset) {
        // pattern: [batch, head, q_pos, k_pos]
        long B = pattern.size(0), H = pattern.size(1), T = pattern.size(2);
        if (offset < 0 || offset >= T)
            throw new LoupeException(
                    "head scores: diagonal " + (-offset) + " is outside a pattern of " + T + " positions");
        // In the flattened [T*T] matrix, (q, q - offset) sits at q*(T+1) - offset for q = offset..T-1.
        INDArray flat = pattern.dup('c').reshape('c', B, H, T * T);
        INDArray diagonal = flat.get(
                NDArrayIndex.all(),
                NDArrayIndex.all(),
                NDArrayIndex.interval(offset * T, T + 1, T * T)); // [batch, head, T - offset]
        return diagonal.mean(0, 2);
    }
}
