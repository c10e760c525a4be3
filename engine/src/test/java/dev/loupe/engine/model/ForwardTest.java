package dev.loupe.engine.model;

import static org.junit.jupiter.api.Assertions.*;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

class ForwardTest {
    static final int[] SEQ_A = {1, 5, 9, 3, 7, 2}, SEQ_B = {4, 4, 10};

    static double maxDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                        .sub(b.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)))
                .maxNumber()
                .doubleValue();
    }

    @Test
    void logitsHaveTheRightShapeAndAreFiniteForEveryArchitecture() {
        for (var e : TestModels.all("float32").entrySet()) {
            HookedTransformer m = TestModels.model(e.getValue(), 1);
            INDArray logits = m.run(SEQ_A, SEQ_A);
            assertArrayEquals(new long[] {2, 6, 11}, logits.shape(), e.getKey());
            assertFalse(Double.isNaN(logits.sumNumber().doubleValue()), e.getKey());
            assertEquals(0, maxDiff(logits.get(point(0)), logits.get(point(1))), 1e-6, e.getKey());
        }
    }

    @Test
    void paddedBatchesGiveEachSequenceItsOwnLogits() {
        for (var e : TestModels.all("float32").entrySet()) {
            HookedTransformer m = TestModels.model(e.getValue(), 2);
            INDArray a = m.run(SEQ_A), b = m.run(SEQ_B);
            for (Tokens.Side side : Tokens.Side.values()) {
                INDArray batch = m.run(Tokens.padded(List.of(SEQ_A, SEQ_B), 0, side));
                int off = side == Tokens.Side.LEFT ? 3 : 0;
                assertTrue(maxDiff(batch.get(point(0)), a.get(point(0))) < 1e-5, e.getKey() + " " + side);
                INDArray bRows = batch.get(point(1), interval(off, off + 3), all());
                assertTrue(
                        maxDiff(bRows, b.get(point(0))) < 1e-5,
                        e.getKey() + " " + side + " diff " + maxDiff(bRows, b.get(point(0))));
            }
        }
    }

    @Test
    void cacheHoldsEveryHookWithTransformerLensShapes() {
        ModelConfig cfg = TestModels.all("float32").get("llama-like");
        HookedTransformer m = TestModels.model(cfg, 3).useAttnResult(true);
        ForwardResult r = m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.all());
        ActivationCache c = r.cache();
        for (String n : m.hookNames()) assertTrue(c.contains(n), n);
        assertArrayEquals(new long[] {1, 6, 4, 4}, c.get("blocks.0.attn.hook_q").shape());
        assertArrayEquals(new long[] {1, 6, 2, 4}, c.get("k0").shape()); // GQA: kv heads
        assertArrayEquals(new long[] {1, 4, 6, 6}, c.get("pattern", 1).shape());
        assertArrayEquals(
                new long[] {1, 6, 4, 8}, c.get("blocks.1.attn.hook_result").shape());
        assertArrayEquals(new long[] {1, 6, 1}, c.get("blocks.0.ln1.hook_scale").shape());
        assertArrayEquals(new long[] {2, 1, 6, 8}, c.stack("resid_post").shape());
        assertEquals(0, maxDiff(c.get("unembed.hook_out"), r.logits()), 0);
        // patterns are causal probability distributions
        INDArray p = c.get("pattern", 0);
        assertEquals(0, maxDiff(p.sum(3), Nd4j.onesLike(p.sum(3))), 1e-5);
        assertEquals(0, p.getDouble(0, 0, 0, 1), 0);
        assertEquals(c.size(), c.summary().rowCount());
        assertTrue(c.bytes() > 0);
    }

    @Test
    void cachedRunMatchesPlainRunAndFilterKeepsOnlyWhatItAsks() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 4);
        INDArray plain = m.run(SEQ_A);
        ForwardResult r =
                m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.names("blocks.1.hook_resid_post", "pattern0"));
        assertEquals(0, maxDiff(plain, r.logits()), 0);
        assertEquals(
                List.of("blocks.0.attn.hook_pattern", "blocks.1.hook_resid_post"),
                r.cache().names().stream().toList());
        ForwardResult layers = m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.layers(1, 2));
        assertTrue(layers.cache().names().stream().allMatch(n -> n.startsWith("blocks.1.")));
        assertFalse(layers.cache().contains("blocks.1.attn.hook_result"), "hook_result is off unless asked");
    }

    @Test
    void closedResultsGiveTheirMemoryToLaterPassesWithoutChangingThem() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("llama-like"), 13);
        INDArray first = m.run(SEQ_A).dup();
        ActivationCache kept =
                m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.all()).cache();
        INDArray keptPattern = kept.get("pattern0").dup();
        for (int i = 0; i < 3; i++) {
            try (ForwardResult r = m.runWithCache(Tokens.of(SEQ_B, SEQ_B), ActivationFilter.all())) {
                assertEquals(2, r.logits().size(0));
            }
            assertEquals(0, maxDiff(first, m.run(SEQ_A)), 0, "pass " + i);
        }
        // a cache that was not closed is never handed out again
        assertEquals(0, maxDiff(keptPattern, kept.get("pattern0")), 0);
    }

    @Test
    void residualStreamDecomposesIntoItsParts() {
        HookedTransformer m = TestModels.model(TestModels.all("float64").get("gpt2-like"), 5);
        ActivationCache c =
                m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.all()).cache();
        INDArray sum = c.get("hook_embed").add(c.get("hook_pos_embed"));
        for (int l = 0; l < 2; l++) sum.addi(c.get("attn_out", l)).addi(c.get("mlp_out", l));
        assertEquals(0, maxDiff(sum, c.get("resid_post", 1)), 1e-10);
    }

    @Test
    void hooksReplaceActivationsAndPermanentHooksCanBeRemoved() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 6);
        INDArray clean = m.run(SEQ_A);
        AtomicInteger calls = new AtomicInteger();
        INDArray same = m.runWithHooks(Tokens.of(SEQ_A), Hook.forward("blocks.0.hook_resid_pre", (a, h) -> {
            calls.incrementAndGet();
            assertEquals(0, h.layer());
            return null;
        }));
        assertEquals(1, calls.get());
        assertEquals(0, maxDiff(clean, same), 0);
        Hook ablateHead0 = Hook.forward("blocks.0.attn.hook_z", (z, h) -> {
            INDArray out = z.dup();
            out.get(all(), all(), point(0), all()).assign(0);
            return out;
        });
        INDArray ablated = m.runWithHooks(Tokens.of(SEQ_A), ablateHead0);
        assertTrue(maxDiff(clean, ablated) > 1e-4);
        // The same by hand: patch resid from a run with the head removed equals ablation
        try (var scope = m.withHooks(ablateHead0)) {
            assertEquals(0, maxDiff(ablated, m.run(SEQ_A)), 0);
            assertEquals(1, m.hooks().size());
        }
        assertEquals(0, m.hooks().size());
        m.addHook(ablateHead0);
        assertEquals(0, maxDiff(ablated, m.run(SEQ_A)), 0);
        m.resetHooks();
        assertEquals(0, maxDiff(clean, m.run(SEQ_A)), 0);
        // predicate hooks reach every matching point
        AtomicInteger patterns = new AtomicInteger();
        m.runWithHooks(Tokens.of(SEQ_A), Hook.forward(n -> n.endsWith("hook_pattern"), (a, h) -> {
            patterns.incrementAndGet();
            return null;
        }));
        assertEquals(2, patterns.get());
    }

    @Test
    void activationPatchingRestoresTheCleanRun() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("llama-like"), 7);
        int[] corrupt = SEQ_A.clone();
        corrupt[0] = 2;
        ActivationCache clean =
                m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.all()).cache();
        INDArray patched = m.runWithHooks(
                Tokens.of(corrupt), Hook.forward("blocks.1.hook_resid_pre", (a, h) -> clean.get(h.name())));
        assertTrue(maxDiff(patched, clean.get("unembed.hook_out")) < 1e-5);
    }

    @Test
    void stopAndStartAtLayerComposeToAFullRun() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("llama-like"), 8);
        INDArray full = m.run(SEQ_A);
        INDArray resid = m.forward(
                        ForwardRequest.of(Tokens.of(SEQ_A)).stopAtLayer(1).build())
                .residual();
        assertArrayEquals(new long[] {1, 6, 8}, resid.shape());
        INDArray rest = m.forward(ForwardRequest.of(null).startAtLayer(1, resid).build())
                .logits();
        assertTrue(maxDiff(full, rest) < 1e-5);
    }

    @Test
    void badInputGivesClearErrors() {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 9);
        var e1 = assertThrows(LoupeException.class, () -> m.run(new int[] {1, 11}));
        assertTrue(e1.getMessage().contains("token id 11"), e1.getMessage());
        var e2 = assertThrows(LoupeException.class, () -> m.run(new int[17]));
        assertTrue(e2.getMessage().contains("n_ctx = 16"), e2.getMessage());
        var e3 = assertThrows(
                LoupeException.class,
                () -> m.runWithHooks(Tokens.of(SEQ_A), Hook.forward("blocks.0.attn.hook_patern", (a, h) -> null)));
        assertTrue(e3.getMessage().contains("blocks.0.attn.hook_pattern"), e3.getMessage());
        var e4 = assertThrows(
                LoupeException.class,
                () -> m.runWithHooks(
                        Tokens.of(SEQ_A), Hook.forward("blocks.0.hook_resid_pre", (a, h) -> Nd4j.zeros(1, 6, 7))));
        assertTrue(
                e4.getMessage().contains("blocks.0.hook_resid_pre")
                        && e4.getMessage().contains("[1, 6, 8]"),
                e4.getMessage());
        var e5 = assertThrows(
                LoupeException.class,
                () -> m.runWithHooks(
                        Tokens.of(SEQ_A),
                        Hook.forward(
                                "blocks.0.hook_resid_pre",
                                (a, h) -> a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE))));
        assertTrue(e5.getMessage().contains("dtype"), e5.getMessage());
        var e6 = assertThrows(LoupeException.class, () -> m.runWithCache(Tokens.of(SEQ_A), ActivationFilter.none())
                .cache()
                .get("k0"));
        assertTrue(e6.getMessage().contains("k0"));
        var e7 = assertThrows(
                LoupeException.class,
                () -> new HookedTransformer(m.config().toBuilder().dModel(10).build(), m.weights()));
        assertTrue(e7.getMessage().contains("embed.W_E"), e7.getMessage());
    }

    @Test
    void actNameFollowsTransformerLens() {
        assertEquals("blocks.3.attn.hook_pattern", HookNames.actName("pattern", 3));
        assertEquals("blocks.6.attn.hook_k", HookNames.actName("k6", -1));
        assertEquals("blocks.2.hook_resid_post", HookNames.actName("resid_post", 2));
        assertEquals("blocks.2.mlp.hook_post", HookNames.actName("post", 2));
        assertEquals("blocks.1.ln2.hook_scale", HookNames.actName("scale", 1, "ln2"));
        assertEquals("ln_final.hook_scale", HookNames.actName("scale", -1));
        assertEquals("hook_embed", HookNames.actName("embed", -1));
        assertEquals("blocks.0.attn.hook_attn_scores", HookNames.actName("attn_logits", 0));
        assertEquals("blocks.4.ln1.hook_normalized", HookNames.actName("normalized4ln1", -1));
    }

    @Test
    void parameterCountMatchesWeights() {
        for (var e : TestModels.all("float32").entrySet()) {
            HookedTransformer m = TestModels.model(e.getValue(), 1);
            long n = m.weights().asMap().values().stream()
                    .mapToLong(INDArray::length)
                    .sum();
            assertEquals(n, e.getValue().parameterCount(), e.getKey());
        }
        // GPT-2 small as TransformerLens holds it: 124,439,808 (HF) + untied W_U 38,597,376 + b_U 50,257
        assertEquals(
                124_439_808L + 38_597_376L + 50_257L, ModelConfig.gpt2Small().parameterCount());
    }
}
