package dev.loupe.engine.analysis;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * TransformerLens's {@code head_detector.detect_head}: how well each head's attention pattern on
 * one sequence matches a detection pattern — a named one ({@code previous_token_head}, {@code
 * duplicate_token_head}, {@code induction_head}, built from the tokens as TransformerLens builds
 * them) or any lower-triangular [pos, pos] matrix of your own.
 * <ul>
 *   <li>{@link ErrorMeasure#MUL} (default): the share of the head's attention that falls where the
 *       pattern is 1 ({@code sum(pattern * detection) / sum(pattern)});</li>
 *   <li>{@link ErrorMeasure#ABS}: {@code 1 - mean(|pattern - detection|) * pos}, rounded to 3
 *       decimals: 1 for a perfect match, down to -1.</li>
 * </ul>
 * The result is [n_layers, n_heads]; heads left out by {@code heads} score -1.
 */
public final class HeadDetector {

    /** TransformerLens's {@code HEAD_NAMES}. */
    public static final List<String> HEAD_NAMES =
            List.of("previous_token_head", "duplicate_token_head", "induction_head");

    public enum ErrorMeasure {
        MUL,
        ABS
    }

    private HeadDetector() {}

    /** {@code detect_head(model, seq, name)} with every head, the "mul" measure and nothing excluded. */
    public static INDArray detectHead(HookedTransformer model, int[] tokens, String headName) {
        return detectHead(model, tokens, pattern(headName, tokens), null, null, false, false, ErrorMeasure.MUL);
    }

    /** {@code detect_head(model, seq, detection_pattern)} with every head, "mul", nothing excluded. */
    public static INDArray detectHead(HookedTransformer model, int[] tokens, INDArray detectionPattern) {
        return detectHead(model, tokens, detectionPattern, null, null, false, false, ErrorMeasure.MUL);
    }

    /**
     * {@code detect_head} for a named pattern over several sequences: the mean of each sequence's
     * scores (as TransformerLens does for a list of strings).
     */
    public static INDArray detectHead(HookedTransformer model, List<int[]> sequences, String headName) {
        INDArray sum = null;
        for (int[] seq : sequences) {
            INDArray s = detectHead(model, seq, headName);
            sum = sum == null ? s : sum.addi(s);
        }
        if (sum == null) throw new LoupeException("detect head: no sequences given");
        return sum.divi(sequences.size());
    }

    /**
     * The whole {@code detect_head}: {@code heads} (null: all) to score, a {@code cache} of this
     * sequence's run holding its patterns (null: run the model), whether to leave out the attention
     * to the first token ({@code excludeBos}) and to the current token ({@code excludeCurrentToken}).
     */
    public static INDArray detectHead(
            HookedTransformer model,
            int[] tokens,
            INDArray detectionPattern,
            List<Head> heads,
            ActivationCache cache,
            boolean excludeBos,
            boolean excludeCurrentToken,
            ErrorMeasure measure) {
        ModelConfig cfg = model.config();
        int T = tokens.length;
        if (T <= 1 || T >= cfg.nCtx())
            throw new LoupeException("detect head: the sequence must have more than 1 token and fewer than n_ctx = "
                    + cfg.nCtx() + ", got " + T);
        INDArray det = detectionPattern.castTo(DataType.DOUBLE);
        if (det.rank() != 2 || det.size(0) != T || det.size(1) != T || !lowerTriangular(det))
            throw new LoupeException("detect head: the detection pattern must be a lower triangular matrix of shape ("
                    + T + ", " + T + "), got " + java.util.Arrays.toString(detectionPattern.shape()));
        if (cache == null)
            cache = model.runWithCache(Tokens.of(tokens), HeadScores.PATTERNS).cache();
        List<Head> chosen = heads;
        if (chosen == null) {
            chosen = new ArrayList<>();
            for (int l = 0; l < cfg.nLayers(); l++) for (int h = 0; h < cfg.nHeads(); h++) chosen.add(Head.of(l, h));
        }
        INDArray scores = Nd4j.valueArrayOf(new long[] {cfg.nLayers(), cfg.nHeads()}, -1.0, DataType.DOUBLE);
        for (Head head : chosen) {
            if (head.layer() >= cfg.nLayers() || head.head() >= cfg.nHeads())
                throw new LoupeException("detect head: no head " + head + " in a model of " + cfg.nLayers()
                        + " layers and " + cfg.nHeads() + " heads");
            INDArray pattern = cache.get("pattern", head.layer());
            if (pattern.size(2) != T)
                throw new LoupeException(
                        "detect head: the cached pattern covers " + pattern.size(2) + " positions, the sequence " + T);
            INDArray p = pattern.get(point(0), point(head.head()), all(), all())
                    .castTo(DataType.DOUBLE)
                    .dup();
            scores.putScalar(head.layer(), head.head(), score(p, det, excludeBos, excludeCurrentToken, measure));
        }
        return scores;
    }

    /** {@code compute_head_attention_similarity_score} for one head's pattern [pos, pos]. */
    static double score(INDArray pattern, INDArray det, boolean excludeBos, boolean excludeCurrent, ErrorMeasure m) {
        long T = pattern.size(0);
        if (m == ErrorMeasure.MUL) {
            if (excludeBos) pattern.getColumn(0).assign(0);
            if (excludeCurrent) for (int i = 0; i < T; i++) pattern.putScalar(i, i, 0);
            return pattern.mul(det).sumNumber().doubleValue()
                    / pattern.sumNumber().doubleValue();
        }
        INDArray diff = org.nd4j.linalg.ops.transforms.Transforms.abs(pattern.sub(det), false);
        if (excludeBos) diff.getColumn(0).assign(0);
        if (excludeCurrent) for (int i = 0; i < T; i++) diff.putScalar(i, i, 0);
        double v = diff.meanNumber().doubleValue() * T;
        return 1 - Math.round(v * 1000) / 1000.0;
    }

    /** The named detection pattern of TransformerLens for these tokens. */
    public static INDArray pattern(String headName, int[] tokens) {
        return switch (headName) {
            case "previous_token_head" -> previousTokenPattern(tokens.length);
            case "duplicate_token_head" -> duplicateTokenPattern(tokens);
            case "induction_head" -> inductionPattern(tokens);
            default -> throw new LoupeException("detect head: detection pattern must be a matrix or one of "
                    + HEAD_NAMES + "; got '" + headName + "'");
        };
    }

    /** 1 just below the diagonal: each token attends to the one before it. */
    public static INDArray previousTokenPattern(int T) {
        INDArray p = Nd4j.zeros(DataType.DOUBLE, T, T);
        for (int i = 1; i < T; i++) p.putScalar(i, i - 1, 1);
        return p;
    }

    /** 1 where an earlier token equals the current one (the diagonal excluded). */
    public static INDArray duplicateTokenPattern(int[] tokens) {
        int T = tokens.length;
        INDArray p = Nd4j.zeros(DataType.DOUBLE, T, T);
        for (int i = 0; i < T; i++) for (int j = 0; j < i; j++) if (tokens[i] == tokens[j]) p.putScalar(i, j, 1);
        return p;
    }

    /** The duplicate-token pattern shifted one key to the right: the token after each earlier occurrence. */
    public static INDArray inductionPattern(int[] tokens) {
        int T = tokens.length;
        INDArray dup = duplicateTokenPattern(tokens), p = Nd4j.zeros(DataType.DOUBLE, T, T);
        for (int i = 0; i < T; i++) for (int j = 1; j <= i; j++) p.putScalar(i, j, dup.getDouble(i, j - 1));
        return p;
    }

    private static boolean lowerTriangular(INDArray m) {
        long T = m.size(0);
        for (int i = 0; i < T; i++) for (int j = i + 1; j < T; j++) if (m.getDouble(i, j) != 0) return false;
        return true;
    }
}
