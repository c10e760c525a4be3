package dev.loupe.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.weights.WeightProcessing;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The options the Hugging Face families need (Gemma 2's norms after each sublayer, embedding scale,
 * soft-caps, attention scale and local attention; Llama 3's rotary scaling), each checked against
 * its definition. Gradients of all of them are checked in {@link GradientCheckTest}; the loaded
 * families against PyTorch in {@code HuggingFaceModelTest}.
 */
class ArchitectureOptionsTest {
    static final ModelConfig GEMMA = TestModels.all("float64").get("gemma2-like");
    static final Tokens SEQ = Tokens.of(new int[] {1, 5, 9, 3, 7, 2, 4});

    static double maxDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)))
                .maxNumber()
                .doubleValue();
    }

    static ModelConfig.Builder gemma() {
        return GEMMA.toBuilder();
    }

    @Test
    void localLayersSeeOnlyTheirWindow() {
        HookedTransformer m = TestModels.model(GEMMA, 1);
        ActivationCache c = m.runWithCache(SEQ, ActivationFilter.all()).cache();
        INDArray local = c.get("pattern", 0), global = c.get("pattern", 1);
        for (int t = 0; t < 7; t++)
            for (int s = 0; s <= t; s++) {
                boolean inWindow = s > t - 2;
                assertEquals(inWindow, local.getDouble(0, 0, t, s) > 0, "local [" + t + ", " + s + "]");
                assertTrue(global.getDouble(0, 0, t, s) > 0, "global [" + t + ", " + s + "]");
            }
        // A window as long as the sequence is global attention.
        HookedTransformer wide = new HookedTransformer(gemma().windowSize(7).build(), m.weights());
        HookedTransformer none = new HookedTransformer(
                gemma().windowSize(0).localAttnLayers(List.of()).build(), m.weights());
        assertEquals(0, maxDiff(wide.run(SEQ), none.run(SEQ)), 1e-12);
        assertTrue(maxDiff(m.run(SEQ), none.run(SEQ)) > 1e-3, "the window changes the logits");
    }

    @Test
    void scoresAreScaledSoftCappedThenMasked() {
        ModelConfig uncapped = gemma().attnScoresSoftCap(0).build();
        HookedTransformer m = TestModels.model(uncapped, 2);
        ActivationCache c = m.runWithCache(SEQ, ActivationFilter.all()).cache();
        // q.k / attnScale, query 5 and key 4 (inside the window) of head 3, which reads kv head 1
        INDArray q = c.get("blocks.0.attn.hook_rot_q")
                .get(NDArrayIndex.point(0), NDArrayIndex.point(5), NDArrayIndex.point(3));
        INDArray k = c.get("blocks.0.attn.hook_rot_k")
                .get(NDArrayIndex.point(0), NDArrayIndex.point(4), NDArrayIndex.point(1));
        double raw = q.mul(k).sumNumber().doubleValue() / 3;
        assertEquals(raw, c.get("attn_scores", 0).getDouble(0, 3, 5, 4), 1e-12);
        HookedTransformer capped = new HookedTransformer(
                uncapped.toBuilder().attnScoresSoftCap(0.3).build(), m.weights());
        INDArray scores =
                capped.runWithCache(SEQ, ActivationFilter.all()).cache().get("attn_scores", 0);
        assertEquals(0.3 * Math.tanh(raw / 0.3), scores.getDouble(0, 3, 5, 4), 1e-12);
        assertTrue(Double.isInfinite(scores.getDouble(0, 3, 5, 3)), "outside the window: masked after capping");
        assertTrue(Double.isInfinite(scores.getDouble(0, 3, 1, 2)), "future: masked after capping");
    }

    @Test
    void logitsAreSoftCappedAfterHookOutAsInTransformerLens() {
        HookedTransformer uncapped =
                TestModels.model(gemma().outputLogitsSoftCap(0).build(), 3);
        HookedTransformer capped = new HookedTransformer(GEMMA, uncapped.weights());
        INDArray raw = uncapped.run(SEQ);
        ForwardResult r = capped.runWithCache(SEQ, ActivationFilter.names("unembed.hook_out"));
        INDArray want = Transforms.tanh(raw.div(0.8), true).muli(0.8);
        assertEquals(0, maxDiff(want, r.logits()), 1e-12);
        assertEquals(0, maxDiff(raw, r.cache().get("unembed.hook_out")), 1e-12, "hook_out: before the cap");
    }

    @Test
    void embeddingIsScaledAndPostNormsWriteTheSublayerOutputs() {
        HookedTransformer m = TestModels.model(GEMMA, 4);
        ActivationCache c = m.runWithCache(SEQ, ActivationFilter.all()).cache();
        INDArray row = m.weights().get("embed.W_E").getRow(5).mul(Math.sqrt(8));
        assertEquals(
                0,
                maxDiff(row, c.get("hook_embed").get(NDArrayIndex.point(0), NDArrayIndex.point(1), NDArrayIndex.all())),
                1e-12);
        for (int l = 0; l < 2; l++) {
            String b = "blocks." + l + ".";
            // the post-norms' outputs, x / scale (their hook_normalized) * w, are what the residual gets
            INDArray w1 = m.weights().get(b + "ln1_post.w"), w2 = m.weights().get(b + "ln2_post.w");
            assertEquals(
                    0,
                    maxDiff(
                            c.get(b + "hook_attn_out"),
                            c.get(b + "ln1_post.hook_normalized").mul(w1.reshape(1, 1, 8))),
                    1e-12);
            assertEquals(
                    0,
                    maxDiff(
                            c.get(b + "hook_mlp_out"),
                            c.get(b + "ln2_post.hook_normalized").mul(w2.reshape(1, 1, 8))),
                    1e-12);
            assertArrayEquals(
                    new long[] {1, 7, 1}, c.get(b + "ln2_post.hook_scale").shape());
            // RMSNorm of the attention output, times ln1_post.w
            INDArray x =
                    c.get(b + "attn.hook_z").reshape(7, 16).mmul(m.weights().get(b + "attn.W_O")); // [7, 8]
            INDArray rms = Transforms.sqrt(x.mul(x).mean(true, 1).addi(GEMMA.normEps()), true);
            INDArray want = x.divColumnVector(rms).mulRowVector(m.weights().get(b + "ln1_post.w"));
            assertEquals(0, maxDiff(want.reshape(1, 7, 8), c.get(b + "hook_attn_out")), 1e-12);
        }
        List<String> names = m.hookNames();
        assertTrue(names.indexOf("blocks.0.attn.hook_z") < names.indexOf("blocks.0.ln1_post.hook_scale"));
        assertTrue(names.indexOf("blocks.0.ln1_post.hook_normalized") < names.indexOf("blocks.0.hook_attn_out"));
        assertTrue(names.indexOf("blocks.0.mlp.hook_post") < names.indexOf("blocks.0.ln2_post.hook_scale"));
        assertTrue(names.indexOf("blocks.0.ln2_post.hook_normalized") < names.indexOf("blocks.0.hook_mlp_out"));
        long params = m.weights().asMap().values().stream()
                .mapToLong(INDArray::length)
                .sum();
        assertEquals(params, GEMMA.parameterCount());
    }

    @Test
    void llama3RotaryFrequencies() {
        ModelConfig c = TestModels.all("float64").get("llama3-rope"); // d_head 8, base 10000, scaling (8, 1, 8, 256)
        double[] f = ForwardPass.rotaryFrequencies(c);
        assertEquals(1.0, f[0], 1e-15); // wavelength 6.3 < 256 / 8: kept
        double wavelength = 2 * Math.PI / 0.1, smooth = (256 / wavelength - 1) / (8 - 1);
        assertEquals((1 - smooth) * 0.1 / 8 + smooth * 0.1, f[1], 1e-15); // 32 <= 62.8 <= 256: blended
        assertEquals(0.01 / 8, f[2], 1e-15); // 628 > 256: divided
        assertEquals(0.001 / 8, f[3], 1e-15);
        double[] plain =
                ForwardPass.rotaryFrequencies(c.toBuilder().ropeScaling(null).build());
        assertArrayEquals(new double[] {1, 0.1, 0.01, 0.001}, plain, 1e-15);
    }

    @Test
    void attnScaleDefaultsToSqrtDHeadAndACopyKeepsIt() {
        ModelConfig c = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dVocab(5)
                .nCtx(4)
                .build();
        assertEquals(2.0, c.attnScale());
        assertEquals(
                Math.sqrt(8),
                ModelConfig.builder()
                        .from(c)
                        .dHead(8)
                        .attnScale(Math.sqrt(8))
                        .build()
                        .attnScale());
        assertEquals(2.0, c.toBuilder().dHead(8).build().attnScale(), "a copy keeps every value");
        assertEquals(5.0, c.toBuilder().attnScale(5).dHead(8).build().attnScale());
    }

    @Test
    void invalidCombinationsAreRefused() {
        ModelConfig.Builder b =
                ModelConfig.builder().dModel(8).nLayers(2).nHeads(2).dVocab(5).nCtx(4);
        String[][] cases = {
            {"use_normalization_before_and_after", "LAYER_NORM"},
            {"rope_scaling needs rotary"},
            {"embed_scale"},
            {"attn_scale"},
            {"attn_scores_soft_cap"},
            {"output_logits_soft_cap"},
            {"no layer is local"},
            {"need window_size > 0"},
            {"local_attn_layers must be"},
            {"low_freq_factor < high_freq_factor"}
        };
        List<Runnable> bad = List.of(
                () -> b.useNormalizationBeforeAndAfter(true).build(),
                () -> b.useNormalizationBeforeAndAfter(false)
                        .ropeScaling(new ModelConfig.RopeScaling(8, 1, 4, 8))
                        .build(),
                () -> b.ropeScaling(null).embedScale(0).build(),
                () -> b.embedScale(1).attnScale(Double.NaN).build(),
                () -> b.attnScale(2).attnScoresSoftCap(-2).build(),
                () -> b.attnScoresSoftCap(0)
                        .outputLogitsSoftCap(Double.POSITIVE_INFINITY)
                        .build(),
                () -> b.outputLogitsSoftCap(0).windowSize(3).build(),
                () -> b.windowSize(0).localAttnLayers(1).build(),
                () -> b.windowSize(3).localAttnLayers(1, 1).build(),
                () -> new ModelConfig.RopeScaling(8, 4, 4, 8));
        for (int i = 0; i < bad.size(); i++) {
            LoupeException e = assertThrows(LoupeException.class, bad.get(i)::run, cases[i][0]);
            for (String s : cases[i]) assertTrue(e.getMessage().contains(s), e.getMessage());
        }
    }

    @Test
    void weightProcessingKeepsPostNormsAndLeavesCappedLogitsAlone() {
        HookedTransformer m = TestModels.model(GEMMA, 5);
        HookedTransformer folded = WeightProcessing.foldLayerNorm(m);
        assertEquals(ModelConfig.Normalization.RMS_NORM_PRE, folded.config().normalization());
        assertNotNull(folded.weights().find("blocks.1.ln2_post.w"), "post norms cannot be folded");
        assertEquals(0, maxDiff(m.run(SEQ), folded.run(SEQ)), 1e-12);
        HookedTransformer processed = WeightProcessing.process(m); // skips centerUnembed under a cap
        assertEquals(0, maxDiff(m.run(SEQ), processed.run(SEQ)), 1e-12);
        LoupeException e = assertThrows(LoupeException.class, () -> WeightProcessing.centerUnembed(m));
        assertTrue(e.getMessage().contains("soft-caps"), e.getMessage());
    }

    @Test
    void kvCachedPassesMatchTheFullPassAcrossTheWindow() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gemma2-like"), 6);
        int[] ids = {1, 5, 9, 3, 7, 2, 4, 10, 0, 8};
        INDArray full = m.run(ids);
        KvCache kv = new KvCache(2);
        int from = 0;
        for (int chunk : new int[] {3, 1, 1, 4, 1}) {
            int[] part = java.util.Arrays.copyOfRange(ids, from, from + chunk);
            INDArray got = m.forward(
                            ForwardRequest.of(Tokens.of(part)).kvCache(kv).build())
                    .logits();
            assertEquals(
                    0,
                    maxDiff(
                            full.get(NDArrayIndex.all(), NDArrayIndex.interval(from, from + chunk), NDArrayIndex.all()),
                            got),
                    1e-5);
            from += chunk;
        }
    }
}
