package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Weights;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

class ResidualStreamTest {
    static double maxDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                        .sub(b.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)))
                .maxNumber()
                .doubleValue();
    }

    /** decomposeResid's parts sum to the residual stream, and stackHeadResults' heads plus remainder too. */
    @Test
    void partsSumToTheResidual() {
        for (String arch : List.of("gpt2-like", "llama-like", "neox-like", "attn-only", "gemma2-like")) {
            HookedTransformer m = TestModels.model(TestModels.all("float32").get(arch), 3);
            ActivationCache cache =
                    m.runWithCache(PatchingTest.CLEAN, ActivationFilter.all()).cache();
            ResidualStream rs = ResidualStream.of(m, cache);
            ComponentStack all = rs.decomposeResid();
            double d = maxDiff(all.sum(), cache.get("resid_post", 1));
            System.out.printf(Locale.ROOT, "%s: decomposeResid parts - resid_post: %.1e%n", arch, d);
            assertTrue(d < 1e-5, arch + " decompose: " + d);
            ComponentStack toBlock1 = rs.decomposeResid(1, true, "all", false, true);
            assertTrue(
                    maxDiff(
                                    toBlock1.sum(),
                                    m.config().attnOnly() || m.config().parallelAttnMlp()
                                            ? cache.get("resid_pre", 1).add(cache.get("attn_out", 1))
                                            : cache.get("resid_mid", 1))
                            < 1e-5,
                    arch + " mlp input");
            ComponentStack heads = rs.stackHeadResults(-1, true, false);
            assertEquals(m.config().nLayers() * m.config().nHeads() + 1, heads.size());
            assertTrue(maxDiff(heads.sum(), cache.get("resid_post", 1)) < 1e-5, arch + " heads + remainder");
            boolean hasMid = m.hookNames().contains("blocks.0.hook_resid_mid");
            ComponentStack lens = rs.accumulatedResid(-1, hasMid, false, false);
            assertEquals(
                    hasMid
                            ? List.of("0_pre", "0_mid", "1_pre", "1_mid", "final_post")
                            : List.of("0_pre", "1_pre", "final_post"),
                    lens.labels());
            assertEquals(0, maxDiff(lens.get("1_pre"), cache.get("resid_pre", 1)));
        }
    }

    @Test
    void headResultsAreTheModelsOwn() {
        HookedTransformer m =
                TestModels.model(TestModels.all("float32").get("attn-only"), 3); // useAttnResult: hook_result exists
        ActivationCache cache =
                m.runWithCache(PatchingTest.CLEAN, ActivationFilter.all()).cache();
        ComponentStack heads = ResidualStream.of(m, cache).stackHeadResults(-1, false, false);
        INDArray result1 = cache.get("result", 1); // [batch, pos, head, d_model]
        assertTrue(maxDiff(heads.get("L1H1"), result1.get(all(), all(), point(1), all())) < 1e-6);
    }

    /** The logit lens: the final entry through the final norm is what the unembedding read. */
    @Test
    void logitLensEndsAtTheModelsLogits() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 3);
        var r = m.runWithCache(PatchingTest.CLEAN, ActivationFilter.all());
        ResidualStream rs = ResidualStream.of(m, r.cache());
        ComponentStack lens = rs.accumulatedResid();
        assertEquals(List.of("0_pre", "1_pre", "final_post"), lens.labels());
        assertTrue(maxDiff(lens.get("final_post"), r.cache().get("unembed.hook_in")) < 1e-5);
        INDArray logits = rs.unembed(lens.components());
        assertArrayEquals(new long[] {3, 2, 6, 11}, logits.shape());
        assertTrue(maxDiff(logits.slice(2), r.logits()) < 1e-4);
        // up to a block other than the end: ln1's cached scale of that block
        ComponentStack to1 = rs.accumulatedResid(1, false, true, false);
        INDArray x = r.cache().get("resid_pre", 1);
        INDArray centred = x.sub(x.mean(true, 2));
        INDArray want = centred.div(r.cache().get("blocks.1.ln1.hook_scale").broadcast(x.shape()));
        assertTrue(maxDiff(to1.get("1_pre"), want) < 1e-5);
    }

    /** With the final norm's weights at 1 and 0 (as after folding) and no unembedding bias, the attributions add up to the logit. */
    @Test
    void logitAttributionsAddUpToTheLogitDifference() {
        ModelConfig cfg = TestModels.all("float32").get("gpt2-like");
        HookedTransformer m = new HookedTransformer(cfg, Weights.random(cfg, 4, false));
        var r = m.runWithCache(PatchingTest.CLEAN, ActivationFilter.all());
        ResidualStream rs = ResidualStream.of(m, r.cache());
        INDArray attrs = rs.logitAttrs(rs.decomposeResid().components(), 3, 7); // [n, batch, pos]
        INDArray total = attrs.sum(0);
        INDArray logits = r.logits();
        INDArray want = logits.get(all(), all(), point(3)).sub(logits.get(all(), all(), point(7)));
        assertTrue(maxDiff(total, want) < 1e-4, "max diff " + maxDiff(total, want));
        // per-prompt tokens
        INDArray perPrompt = rs.logitAttrs(rs.decomposeResid().components(), new int[] {3, 4}, new int[] {7, 7});
        assertEquals(attrs.getDouble(2, 0, 5), perPrompt.getDouble(2, 0, 5), 1e-6);
        assertThrows(LoupeException.class, () -> rs.logitAttrs(attrs, 11));
    }
}
