package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.model.Weights;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.zoo.Zoo;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class AttributionPatchingTest {
    static final Tokens CLEAN = PatchingTest.CLEAN, CORRUPT = PatchingTest.CORRUPT;

    /**
     * On attn-only-2l's induction task (clean: repeated random tokens; corrupted: the second half
     * resampled), the first-order estimates track true patching for heads and attention outputs.
     */
    @Test
    void estimatesCorrelateWithTruePatching() {
        HookedTransformer m = Zoo.load("attn-only-2l");
        int n = 10, V = m.config().dVocab();
        Tokens clean = HeadScores.repeatedRandomTokens(8, n, V, InductionTask.BOS, 1);
        Tokens corrupt = HeadScores.resampled(clean, n + 1, 2 * n + 1, V, InductionTask.BOS, 7);
        PatchingMetric loss = PatchingMetric.loss(clean, n + 1, 2 * n);
        AttributionPatching atp = AttributionPatching.of(m, clean, corrupt, loss);
        Patching truth = Patching.of(m, clean, corrupt, loss);
        double base = truth.corruptedValue();
        assertEquals(base, atp.corruptedValue(), 1e-4);
        String[] names = {"head_z", "head_z_by_pos", "attn_out", "resid_pre"};
        PatchResult[][] pairs = {
            {atp.headOutAllPos(), truth.headOutAllPos()},
            {atp.headOutByPos(), truth.headOutByPos()},
            {atp.attnOut(), truth.attnOut()},
            {atp.residPre(), truth.residPre()}
        };
        double[] r = new double[pairs.length];
        for (int i = 0; i < pairs.length; i++) {
            PatchResult est = pairs[i][0], real = pairs[i][1].minus(base);
            assertArrayEquals(real.values().shape(), est.values().shape());
            r[i] = est.correlation(real);
            System.out.printf(Locale.ROOT, "attribution vs patching on attn-only-2l, %s: r = %.3f%n", names[i], r[i]);
        }
        for (int i = 0; i < 3; i++) assertTrue(r[i] > 0.9, names[i] + ": correlation " + r[i]);
        // the residual stream is where the first-order estimate is known to be poor (a whole token's worth of change)
        assertTrue(r[3] > 0, "resid_pre: correlation " + r[3]);
    }

    @Test
    void shapesOfEveryFamily() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 5);
        AttributionPatching atp = AttributionPatching.of(m, CLEAN, CORRUPT, PatchingTest.DIFF);
        assertArrayEquals(new long[] {2, 6}, atp.residMid().values().shape());
        assertArrayEquals(new long[] {2, 6, 2}, atp.headOutByPos().values().shape());
        assertArrayEquals(new long[] {2, 12}, atp.neurons().values().shape());
        assertArrayEquals(new long[] {2, 6, 12}, atp.neuronsByPos().values().shape());
        PatchResult last = atp.residPost();
        assertEquals(0, last.get(1, 0), 1e-12); // an early position after the last block cannot move the last logits
        // a layer's neurons add up to its MLP output (mlp_out is linear in hook_post)
        double neurons = atp.neurons().values().getRow(1).sumNumber().doubleValue();
        double mlp = atp.mlpOut().values().getRow(1).sumNumber().doubleValue();
        assertEquals(mlp, neurons, 1e-4);
    }

    @Test
    void aLinearModelIsEstimatedExactly() {
        // Attention-only without normalisation, one layer: the logits are linear in attn_out, so the estimate is exact.
        ModelConfig cfg = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dHead(4)
                .dVocab(11)
                .nCtx(16)
                .dtype("float64")
                .attnOnly(true)
                .normalization(ModelConfig.Normalization.NONE)
                .build();
        HookedTransformer m = new HookedTransformer(cfg, Weights.random(cfg, 3, true));
        AttributionPatching atp = AttributionPatching.of(m, CLEAN, CORRUPT, PatchingTest.DIFF);
        Patching truth = Patching.of(m, CLEAN, CORRUPT, PatchingTest.DIFF);
        PatchResult est = atp.attnOut(), real = truth.attnOut().minus(truth.corruptedValue());
        for (int p = 0; p < 6; p++) assertEquals(real.get(0, p), est.get(0, p), 1e-9, "pos " + p);
    }

    @Test
    void aMetricWithoutGradientIsRefused() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 5);
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> AttributionPatching.of(m, CLEAN, CORRUPT, PatchingMetric.of("plain", l -> 0)));
        assertTrue(e.getMessage().contains("metric plain has no gradient"), e.getMessage());
    }
}
