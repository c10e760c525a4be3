package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import tech.tablesaw.api.Table;

class PatchingTest {
    static final Tokens CLEAN = Tokens.of(new int[] {1, 4, 7, 2, 9, 3}, new int[] {5, 5, 0, 8, 6, 10});
    static final Tokens CORRUPT = Tokens.of(new int[] {1, 6, 7, 2, 3, 3}, new int[] {5, 2, 0, 8, 1, 10});
    static final PatchingMetric DIFF = PatchingMetric.logitDiff(3, 7);

    static HookedTransformer model(String name) {
        return TestModels.model(TestModels.all("float32").get(name), 5);
    }

    /** Every family, batched many per pass, equals the same patching one pass per patch exactly. */
    @Test
    void batchedEqualsOneAtATimeExactly() {
        List<Function<Patching, PatchResult>> families = List.of(
                Patching::residPre,
                Patching::residPost,
                Patching::headOutByPos,
                Patching::headKAllPos,
                Patching::headPatternByPos);
        for (String arch : List.of("gpt2-like", "llama-like")) {
            HookedTransformer m = model(arch);
            Patching batched = Patching.of(m, CLEAN, CORRUPT, DIFF);
            Patching single = Patching.of(m, CLEAN, CORRUPT, DIFF).runsPerPass(1);
            Patching three = Patching.of(m, CLEAN, CORRUPT, DIFF).runsPerPass(3);
            for (Function<Patching, PatchResult> f : families) {
                PatchResult a = f.apply(batched), b = f.apply(single), c = f.apply(three);
                assertEquals(b.values(), a.values(), arch + " " + a);
                assertEquals(b.values(), c.values(), arch + " " + a);
            }
        }
    }

    /** TransformerLens's loop: one run_with_hooks per patch, the hook copying the clean slice in. */
    @Test
    void matchesOnePassPerPatchWithHooks() {
        HookedTransformer m = model("gpt2-like");
        ActivationCache clean = m.runWithCache(CLEAN, ActivationFilter.all()).cache();
        Patching p = Patching.of(m, CORRUPT, clean, DIFF);
        PatchResult resid = p.residPre();
        PatchResult heads = p.headOutAllPos();
        PatchResult mlp = p.mlpOut();
        assertArrayEquals(new long[] {2, 6}, resid.values().shape());
        assertArrayEquals(new long[] {2, 2}, heads.values().shape());
        for (int l = 0; l < 2; l++) {
            for (int pos = 0; pos < 6; pos++) {
                assertEquals(
                        naive(m, clean, "resid_pre", l, pos, -1),
                        resid.get(l, pos),
                        1e-5,
                        "resid_pre " + l + " " + pos);
                assertEquals(naive(m, clean, "mlp_out", l, pos, -1), mlp.get(l, pos), 1e-5, "mlp_out " + l + " " + pos);
            }
            for (int h = 0; h < 2; h++)
                assertEquals(naive(m, clean, "z", l, -1, h), heads.get(l, h), 1e-5, "z " + l + " " + h);
        }
    }

    /** A last-position metric's patched runs unembed that position alone: the full run's last column. */
    @Test
    void lastPositionLogitsAreTheFullRunsLastColumn() {
        HookedTransformer m = model("gpt2-like");
        INDArray full = m.run(CLEAN);
        INDArray last = m.forward(
                        ForwardRequest.of(CLEAN).lastPositionLogits(true).build())
                .logits();
        assertArrayEquals(new long[] {2, 1, 11}, last.shape());
        INDArray want = full.get(all(), interval(5, 6), all());
        assertTrue(Transforms.abs(want.sub(last)).maxNumber().doubleValue() < 1e-6);
        assertEquals(DIFF.value(full), DIFF.value(last), 1e-6);
        assertTrue(DIFF.readsLastPositionOnly());
        assertTrue(PatchingMetric.normalized(DIFF, 1, 0).readsLastPositionOnly());
        assertFalse(PatchingMetric.loss(CLEAN).readsLastPositionOnly());
    }

    private static double naive(HookedTransformer m, ActivationCache clean, String act, int layer, int pos, int head) {
        String name = HookNames.actName(act, layer);
        INDArray src = clean.get(name);
        INDArray logits = m.runWithHooks(CORRUPT, Hook.forward(name, (a, hp) -> {
            INDArray out = a.dup();
            if (head < 0) out.get(all(), point(pos)).assign(src.get(all(), point(pos)));
            else out.get(all(), all(), point(head)).assign(src.get(all(), all(), point(head)));
            return out;
        }));
        INDArray last = logits.get(all(), point(5), all());
        return last.getColumn(3).sub(last.getColumn(7)).meanNumber().doubleValue();
    }

    @Test
    void patchingEverythingRecoversTheCleanRun() {
        HookedTransformer m = model("gpt2-like");
        Patching p = Patching.of(m, CLEAN, CORRUPT, DIFF);
        double clean = p.cleanValue(), corrupt = p.corruptedValue();
        // resid_pre of block 0 at every position is the whole clean input: patch them all at once
        PatchResult every =
                p.generic("resid_pre", List.of("layer", "pos"), new int[][] {{0, 0}}, (c, i, k) -> c.assign(k));
        assertEquals(clean, every.get(0), 1e-5);
        // the last position's residual after the last block decides the logits
        assertEquals(clean, p.residPost().get(1, 5), 1e-5);
        assertTrue(Math.abs(clean - corrupt) > 1e-3, "clean and corrupted runs should differ");
        PatchResult norm = p.normalized().residPost();
        assertEquals(1, norm.get(1, 5), 1e-5);
        assertEquals(0, norm.get(1, 0), 1e-5); // an early position patched after the last block changes nothing
    }

    @Test
    void blockEveryStacksResidAttnAndMlp() {
        HookedTransformer m = model("gpt2-like");
        Patching p = Patching.of(m, CLEAN, CORRUPT, DIFF);
        PatchResult every = p.blockEvery();
        assertEquals(List.of("component", "layer", "pos"), every.axes());
        assertEquals(List.of("resid_pre", "attn_out", "mlp_out"), every.labels());
        assertEquals(p.attnOut().get(1, 3), every.get(1, 1, 3));
        Table t = every.table();
        assertEquals(3 * 2 * 6, t.rowCount());
        assertEquals("mlp_out", t.stringColumn("component").get(t.rowCount() - 1));
        PatchResult heads = p.headAllPosEvery();
        assertArrayEquals(new long[] {5, 2, 2}, heads.values().shape());
    }

    @Test
    void badInputIsNamed() {
        HookedTransformer m = model("gpt2-like");
        assertMessage(
                () -> Patching.of(m, CLEAN, Tokens.of(new int[] {1, 2, 3}, new int[] {1, 2, 3}), DIFF),
                "same batch and length");
        assertMessage(
                () -> Patching.of(m, CLEAN, CORRUPT, DIFF).target("resid_middle"), "unknown target 'resid_middle'");
        assertMessage(
                () -> Patching.of(m, CLEAN, CORRUPT, PatchingMetric.logitDiff(11, 2)),
                "answer id 11 is outside the vocabulary");
        assertMessage(
                () -> Patching.of(m, CLEAN, CORRUPT, PatchingMetric.logitDiff(1, -1)),
                "wrong id -1 is outside the vocabulary");
        Patching p = Patching.of(m, CLEAN, CORRUPT, DIFF);
        assertMessage(
                () -> p.generic("resid_pre", List.of("layer", "pos"), new int[][] {{0, 6}}, PatchSetter.LAYER_POS),
                "pos 6 is out of range 0..5");
        assertMessage(
                () -> p.generic("resid_pre", List.of("layer", "pos"), new int[][] {{2, 0}}, PatchSetter.LAYER_POS),
                "layer 2 is out of range 0..1");
        PatchingMetric nan = PatchingMetric.of("nan after layer 0", logits -> Double.NaN);
        assertMessage(
                () -> Patching.of(m, CLEAN, CORRUPT, nan).residPre(), "returned NaN for resid_pre layer 0, pos 0");
        assertMessage(
                () -> Patching.of(model("attn-only"), CLEAN, CORRUPT, DIFF).mlpOut(),
                "no hook point 'blocks.0.hook_mlp_out'");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable run, String fragment) {
        LoupeException e = assertThrows(LoupeException.class, run);
        assertTrue(e.getMessage().contains(fragment), "message should contain \"" + fragment + "\": " + e.getMessage());
    }

    static ModelConfig cfg(String name) {
        return TestModels.all("float32").get(name);
    }
}
