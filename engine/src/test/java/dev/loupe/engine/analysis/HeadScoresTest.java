package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.Table;

class HeadScoresTest {
    static final int N = 5, T = 1 + 2 * N;

    /** Head 0 attends to the previous token, head 1 to the token after the earlier occurrence, head 2 to the earlier occurrence, head 3 to BOS. */
    static INDArray idealPatterns() {
        INDArray p = Nd4j.zeros(DataType.FLOAT, 2, 4, T, T);
        for (int b = 0; b < 2; b++)
            for (int q = 0; q < T; q++) {
                p.putScalar(new long[] {b, 0, q, Math.max(0, q - 1)}, 1);
                p.putScalar(new long[] {b, 1, q, q >= N - 1 ? q - (N - 1) : 0}, 1);
                p.putScalar(new long[] {b, 2, q, q >= N ? q - N : 0}, 1);
                p.putScalar(new long[] {b, 3, q, 0}, 1);
            }
        return p;
    }

    @Test
    void scoresAreTheMeanAttentionAlongEachDiagonal() {
        ActivationCache cache = new ActivationCache();
        cache.put("blocks.0.attn.hook_pattern", idealPatterns());
        // Heads that park on BOS early on also touch (1, 0), (N-1, 0) or (N, 0) on the other diagonals.
        assertArrayClose(
                new double[] {1, 0.1, 0.1, 0.1},
                HeadScores.previousToken(cache, 0).toDoubleVector());
        assertArrayClose(
                new double[] {0, 1, 1.0 / (T - N + 1), 1.0 / (T - N + 1)},
                HeadScores.induction(cache, 0, N).toDoubleVector());
        assertArrayClose(
                new double[] {0, 0, 1, 1.0 / (T - N)},
                HeadScores.duplicateToken(cache, 0, N).toDoubleVector());
    }

    @Test
    void repeatedTokensRepeatAndAvoidBos() {
        Tokens t = HeadScores.repeatedRandomTokens(3, 7, 10, 4, 1);
        assertEquals(15, t.length());
        for (int[] row : t.ids()) {
            assertEquals(4, row[0]);
            for (int i = 1; i <= 7; i++) {
                assertEquals(row[i], row[i + 7]);
                assertTrue(row[i] != 4 && row[i] >= 0 && row[i] < 10);
            }
        }
    }

    @Test
    void tableHasEveryHeadAndChecksTheContext() {
        ModelConfig cfg = ModelConfig.builder()
                .dModel(16)
                .nLayers(2)
                .nHeads(2)
                .attnOnly(true)
                .dVocab(20)
                .nCtx(21)
                .build();
        HookedTransformer model = HookedTransformer.random(cfg, 0);
        Table t = HeadScores.compute(model, 0, 10, 4, 0);
        assertEquals(4, t.rowCount());
        assertEquals(
                java.util.List.of("layer", "head", "previous_token", "duplicate_token", "induction"), t.columnNames());
        for (String c : new String[] {"previous_token", "duplicate_token", "induction"})
            for (double v : t.doubleColumn(c).asDoubleArray()) assertTrue(v >= 0 && v <= 1, c + " = " + v);
        String m = assertThrows(LoupeException.class, () -> HeadScores.compute(model, 0, 11, 4, 0))
                .getMessage();
        assertTrue(m.contains("seq_len 11 needs 23 positions, the model's context is 21"), m);
    }

    static void assertArrayClose(double[] want, double[] got) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-6, "head " + i);
    }
}
