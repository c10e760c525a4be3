package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.zoo.Zoo;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class HeadDetectorTest {
    static final int[] TOKENS = {0, 3, 7, 2, 9, 5, 3, 7, 2, 9, 5
    }; // [BOS, r, r] with N = 5, as HeadScoresTest's patterns

    @Test
    void idealHeadsScoreOne() {
        // a model only for its shape: 1 layer of 4 heads, n_ctx 16; the patterns come from the cache
        ModelConfig cfg = TestModels.all("float32").get("gpt2-like").toBuilder()
                .nLayers(1)
                .nHeads(4)
                .dHead(2)
                .build();
        HookedTransformer m = TestModels.model(cfg, 1);
        ActivationCache cache = new ActivationCache();
        cache.put(
                "blocks.0.attn.hook_pattern",
                HeadScoresTest.idealPatterns().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1)));
        INDArray prev = HeadDetector.detectHead(
                m,
                TOKENS,
                HeadDetector.pattern("previous_token_head", TOKENS),
                null,
                cache,
                false,
                false,
                HeadDetector.ErrorMeasure.MUL);
        assertEquals(10.0 / 11, prev.getDouble(0, 0), 1e-6); // the first token can only attend to itself
        INDArray induction = HeadDetector.detectHead(
                m,
                TOKENS,
                HeadDetector.pattern("induction_head", TOKENS),
                null,
                cache,
                false,
                false,
                HeadDetector.ErrorMeasure.MUL);
        // head 1 attends to the token after the earlier occurrence on the repeat (and to BOS before it)
        assertEquals(5.0 / 11, induction.getDouble(0, 1), 1e-6);
        INDArray excl = HeadDetector.detectHead(
                m,
                TOKENS,
                HeadDetector.pattern("induction_head", TOKENS),
                null,
                cache,
                true,
                false,
                HeadDetector.ErrorMeasure.MUL);
        assertEquals(
                5.0 / 6,
                excl.getDouble(0, 1),
                1e-6); // BOS left out: the attention on the first half's BOS stops counting
        INDArray abs = HeadDetector.detectHead(
                m,
                TOKENS,
                HeadDetector.previousTokenPattern(11),
                List.of(Head.of(0, 0)),
                cache,
                false,
                false,
                HeadDetector.ErrorMeasure.ABS);
        assertEquals(1 - 1.0 / 121 * 11 * 1, abs.getDouble(0, 0), 1e-3); // only row 0 differs (attends to itself)
        assertEquals(-1, abs.getDouble(0, 1)); // not asked for
    }

    /** attn-only-2l: the named detectors agree with HeadScores; a custom pattern finds the head that attends to itself. */
    @Test
    void findsTheZooModelsHeads() {
        HookedTransformer m = Zoo.load("attn-only-2l");
        int[] seq = HeadScores.repeatedRandomTokens(1, 20, m.config().dVocab(), InductionTask.BOS, 3)
                .ids()[0];
        INDArray prev = HeadDetector.detectHead(m, seq, "previous_token_head");
        INDArray ind = HeadDetector.detectHead(m, seq, "induction_head");
        assertEquals(3, prev.getRow(0).argMax().getInt(0)); // L0H3
        assertTrue(prev.getDouble(0, 3) > 0.9);
        // "mul" divides by all the attention, and only the repeated half can induct: at most 20/41.
        // HeadScores: L1H0 and L1H1 induct (0.94), L1H3 less (0.55), layer 0 not at all.
        assertTrue(ind.getDouble(1, 0) > 0.4 && ind.getDouble(1, 1) > 0.4, ind.toString());
        assertTrue(ind.getDouble(1, 3) < ind.getDouble(1, 0), ind.toString());
        assertTrue(ind.getRow(0).maxNumber().doubleValue() < 0.05, ind.toString());
        INDArray self = HeadDetector.detectHead(m, seq, Nd4j.eye(seq.length));
        // a custom pattern: attention to the current token; no head of this model does that much
        assertTrue(self.maxNumber().doubleValue() < 0.5 && self.minNumber().doubleValue() >= 0, self.toString());
        assertThrows(LoupeException.class, () -> HeadDetector.detectHead(m, seq, "induction"));
        assertThrows(LoupeException.class, () -> HeadDetector.detectHead(m, seq, Nd4j.ones(seq.length, seq.length)));
    }
}
