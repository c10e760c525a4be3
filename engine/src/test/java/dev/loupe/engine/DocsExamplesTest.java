package dev.loupe.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.KvCache;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Objective;
import dev.loupe.engine.model.Tokens;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.Table;

/**
 * The code examples of README.md and docs/hooks.md, verbatim where the docs show code, run on a tiny
 * random model; and the hook table of docs/hooks.md checked against real runs.
 */
class DocsExamplesTest {
    /** Two layers, two heads of 4, d_mlp 12, vocabulary 11, learned positions, LayerNorm, GELU. */
    private final HookedTransformer model = HookedTransformer.random(
            ModelConfig.builder()
                    .dModel(8)
                    .nLayers(2)
                    .nHeads(2)
                    .dHead(4)
                    .dMlp(12)
                    .dVocab(11)
                    .nCtx(16)
                    .build(),
            7);

    private final Tokens tokens = Tokens.of(new int[] {1, 5, 9, 3});

    @TempDir
    Path tmp;

    private static double maxDiff(INDArray a, INDArray b) {
        return a.sub(b).amaxNumber().doubleValue();
    }

    // ------------------------------------------------------------------ README.md

    @Test
    void readmeQuickStart() {
        Path dir = tmp.resolve("my-model");
        // --- README.md
        ModelConfig cfg = ModelConfig.builder()
                .dModel(64)
                .nLayers(2)
                .nHeads(4)
                .dVocab(100)
                .nCtx(64)
                .build();
        HookedTransformer model = HookedTransformer.random(cfg, 0); // or Checkpoint.load(dir)
        Tokens tokens = Tokens.of(new int[] {1, 5, 9, 3});
        INDArray logits = model.run(tokens); // [1, 4, 100]
        ActivationCache cache =
                model.runWithCache(tokens, ActivationFilter.all()).cache();
        INDArray pattern = cache.get("pattern", 0); // [1, 4, 4, 4]: batch, head, q_pos, k_pos
        Hook zeroHead0 = Hook.forward("z", 0, (z, hook) -> { // z: [batch, pos, head, d_head]
            z.get(all(), all(), point(0), all()).assign(0);
            return null;
        }); // edited in place
        INDArray ablated = model.runWithHooks(tokens, zeroHead0);
        Checkpoint.save(model, dir); // config.json + model.safetensors
        // ---
        assertArrayEquals(new long[] {1, 4, 100}, logits.shape());
        assertArrayEquals(new long[] {1, 4, 4, 4}, pattern.shape());
        assertTrue(maxDiff(logits, ablated) > 0);
        assertEquals(0, maxDiff(logits, Checkpoint.load(dir).run(tokens)), 0);
    }

    // ------------------------------------------------------------------ docs/hooks.md

    @Test
    void actNameExamples() {
        assertEquals("blocks.3.attn.hook_pattern", HookNames.actName("pattern", 3));
        assertEquals("blocks.2.hook_resid_post", HookNames.actName("resid_post", 2));
        assertEquals("blocks.0.mlp.hook_post", HookNames.actName("post", 0));
        assertEquals("blocks.1.ln1.hook_scale", HookNames.actName("scale", 1, "ln1"));
        assertEquals("blocks.6.attn.hook_k", HookNames.actName("k6", -1));
        assertEquals("blocks.4.ln2.hook_scale", HookNames.actName("scale4ln2", -1));
        assertEquals("hook_embed", HookNames.actName("embed", -1));
        assertEquals("ln_final.hook_scale", HookNames.actName("scale", -1));
        assertEquals("blocks.0.attn.hook_attn_scores", HookNames.actName("attn_logits", 0));
        assertEquals("blocks.0.hook_resid_pre", HookNames.actName("blocks.0.hook_resid_pre", -1));
        // aliases and layer types mentioned in the text
        assertEquals("blocks.1.attn.hook_pattern", HookNames.actName("attn", 1));
        assertEquals("blocks.1.attn.hook_v", HookNames.actName("value", 1));
        assertEquals("blocks.1.mlp.hook_pre", HookNames.actName("mlp_pre", 1));
        assertEquals("blocks.1.attn.hook_rot_q", HookNames.actName("rot_q1", -1));
        assertEquals("blocks.3.ln1.hook_normalized", HookNames.actName("normalized", 3, "ln1"));
        assertEquals("blocks.0.attn.hook_z", HookNames.actName("z", 0, "a"));
        assertEquals(1, HookNames.layerOf("blocks.1.attn.hook_z"));
        assertEquals("z", HookNames.shortName("blocks.1.attn.hook_z"));
        // hooks take short name and layer, compact and full names alike
        for (Hook h : List.of(
                Hook.forward("z", 0, (z, p) -> null),
                Hook.forward("z0", (z, p) -> null),
                Hook.forward("blocks.0.attn.hook_z", (z, p) -> null)))
            assertEquals("blocks.0.attn.hook_z", h.description());
        assertNotNull(model.runWithHooks(tokens, Hook.forward("z0", (z, h) -> null)));
    }

    @Test
    void forwardHooks() {
        HookedTransformer model = this.model;
        Tokens tokens = this.tokens;
        // --- docs/hooks.md: Forward hooks
        Hook ablateHead1 = Hook.forward("z", 0, (z, hook) -> { // z: [batch, pos, head, d_head]
            z.get(all(), all(), point(1), all()).assign(0); // in place
            return null;
        });
        INDArray ablated = model.runWithHooks(tokens, ablateHead1);

        List<INDArray> patterns = new ArrayList<>();
        model.runWithHooks(tokens, Hook.forward(name -> name.endsWith("hook_pattern"), (p, hook) -> {
            patterns.add(p); // one [batch, head, q_pos, k_pos] per layer
            return null; // null: leave the activation unchanged
        }));
        // ---
        assertTrue(maxDiff(model.run(tokens), ablated) > 0);
        assertEquals(2, patterns.size());
        assertArrayEquals(new long[] {1, 2, 4, 4}, patterns.get(1).shape());
        // kept arrays stay valid after the pass
        assertEquals(1.0, patterns.get(0).getDouble(0, 0, 0, 0), 1e-6);

        // wrong shape / dtype: LoupeException naming the hook
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> model.runWithHooks(
                        tokens, Hook.forward("blocks.0.hook_resid_pre", (a, h) -> Nd4j.zeros(1, 4, 7))));
        assertTrue(
                e.getMessage().contains("hook 'blocks.0.hook_resid_pre' returned shape [1, 4, 7], expected [1, 4, 8]"),
                e.getMessage());
        e = assertThrows(
                LoupeException.class,
                () -> model.runWithHooks(
                        tokens,
                        Hook.forward(
                                "blocks.0.hook_resid_pre",
                                (a, h) -> a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE))));
        assertTrue(
                e.getMessage().contains("blocks.0.hook_resid_pre")
                        && e.getMessage().contains("dtype"),
                e.getMessage());
        e = assertThrows(
                LoupeException.class,
                () -> model.runWithHooks(tokens, Hook.forward("blocks.0.attn.hook_result", (a, h) -> null)));
        assertTrue(e.getMessage().contains("useAttnResult(true)"), e.getMessage());

        // hooks on one point run in order, permanent first, each seeing the previous output
        List<String> order = new ArrayList<>();
        Hook first = Hook.forward("blocks.1.hook_resid_pre", (a, h) -> {
            order.add("permanent");
            return a.mul(2);
        });
        try (var scope = model.withHooks(first)) {
            model.runWithHooks(tokens, Hook.forward("blocks.1.hook_resid_pre", (a, h) -> {
                order.add("per-run");
                return null;
            }));
        }
        assertEquals(List.of("permanent", "per-run"), order);
    }

    @Test
    void activationPatching() {
        HookedTransformer model = this.model;
        // --- docs/hooks.md: activation patching
        int[] clean = {1, 5, 9, 3}, corrupt = {2, 5, 9, 3};
        ActivationCache cleanCache = model.runWithCache(Tokens.of(clean), ActivationFilter.names("resid_pre1"))
                .cache();
        INDArray patched = model.runWithHooks(
                Tokens.of(corrupt),
                Hook.forward("blocks.1.hook_resid_pre", (resid, hook) -> cleanCache.get(hook.name())));
        // ---
        assertTrue(maxDiff(patched, model.run(Tokens.of(clean))) < 1e-5);
        assertTrue(maxDiff(model.run(Tokens.of(corrupt)), model.run(Tokens.of(clean))) > 1e-5);
    }

    @Test
    void permanentHooks() {
        HookedTransformer model = this.model;
        Tokens tokens = this.tokens;
        Hook ablateHead1 = Hook.forward("blocks.0.attn.hook_z", (z, hook) -> {
            INDArray out = z.dup();
            out.get(all(), all(), point(1), all()).assign(0);
            return out;
        });
        INDArray clean = model.run(tokens), expected = model.runWithHooks(tokens, ablateHead1);
        // --- docs/hooks.md: Permanent hooks
        model.addHook(ablateHead1); // checked like any exact-name hook
        INDArray withAblation = model.run(tokens);
        model.removeHook(ablateHead1);
        model.resetHooks(); // removes every permanent hook

        try (var scope = model.withHooks(ablateHead1)) { // added for this block only
            INDArray alsoAblated = model.run(tokens);
            assertEquals(0, maxDiff(expected, alsoAblated), 0);
        } // removed here, even if the block throws
        List<Hook> active = model.hooks(); // empty again
        // ---
        assertEquals(0, maxDiff(expected, withAblation), 0);
        assertTrue(active.isEmpty());
        assertEquals(0, maxDiff(clean, model.run(tokens)), 0);
        assertThrows(IllegalStateException.class, () -> {
            try (var scope = model.withHooks(ablateHead1)) {
                throw new IllegalStateException("boom");
            }
        });
        assertTrue(model.hooks().isEmpty());
        assertThrows(
                LoupeException.class, () -> model.addHook(Hook.forward("blocks.9.hook_resid_pre", (a, h) -> null)));
        model.addHook(ablateHead1);
        assertTrue(model.useAttnResult(true).hooks().isEmpty());
        model.resetHooks();
    }

    @Test
    void filtersAndCache() {
        HookedTransformer model = this.model;
        Tokens tokens = this.tokens;
        // --- docs/hooks.md: Caching activations
        ActivationFilter.all(); // every hook point
        ActivationFilter.none();
        ActivationFilter.names("blocks.0.attn.hook_pattern", "k1", "resid_post1"); // short forms expand
        ActivationFilter.matching(name -> name.endsWith("hook_z"));
        ActivationFilter.layers(1, 2); // hook points of blocks 1 (inclusive) to 2 (exclusive)
        ActivationFilter.matching(ActivationFilter.layers(0, 1).and(name -> name.endsWith("hook_pattern")));
        // ---
        assertEquals(
                Set.of("blocks.0.attn.hook_pattern", "blocks.1.attn.hook_k", "blocks.1.hook_resid_post"),
                cached(ActivationFilter.names("blocks.0.attn.hook_pattern", "k1", "resid_post1")));
        assertEquals(
                Set.of("blocks.0.attn.hook_z", "blocks.1.attn.hook_z"),
                cached(ActivationFilter.matching(name -> name.endsWith("hook_z"))));
        assertTrue(cached(ActivationFilter.layers(1, 2)).stream().allMatch(n -> n.startsWith("blocks.1.")));
        assertFalse(cached(ActivationFilter.layers(0, 2)).contains("hook_embed"));
        assertEquals(
                Set.of("blocks.0.attn.hook_pattern"),
                cached(ActivationFilter.matching(
                        ActivationFilter.layers(0, 1).and(name -> name.endsWith("hook_pattern")))));
        assertEquals(Set.of(), cached(ActivationFilter.none()));
        LoupeException typo =
                assertThrows(LoupeException.class, () -> cached(ActivationFilter.names("blocks.0.attn.hook_patern")));
        assertTrue(typo.getMessage().contains("blocks.0.attn.hook_pattern"), typo.getMessage());
        assertEquals(new HashSet<>(model.hookNames()), cached(ActivationFilter.all()));

        // --- docs/hooks.md: ActivationCache
        ForwardResult r = model.runWithCache(tokens, ActivationFilter.all());
        ActivationCache cache = r.cache();
        INDArray p0 = cache.get("blocks.0.attn.hook_pattern"); // by full name
        INDArray k1 = cache.get("k1"); // by compact name
        INDArray z0 = cache.get("z", 0); // by short name and layer
        INDArray resid = cache.stack("resid_post"); // [n_layers, batch, pos, d_model]
        Table table = cache.summary(); // Tablesaw: name, shape, dtype, bytes
        long bytes = cache.bytes();
        boolean has = cache.contains("blocks.1.hook_resid_mid"); // full or short names, as get
        // ---
        assertArrayEquals(new long[] {1, 2, 4, 4}, p0.shape());
        assertArrayEquals(new long[] {1, 4, 2, 4}, k1.shape());
        assertArrayEquals(new long[] {1, 4, 2, 4}, z0.shape());
        assertArrayEquals(new long[] {2, 1, 4, 8}, resid.shape());
        assertEquals(0, maxDiff(resid.get(point(1)), cache.get("resid_post", 1)), 0);
        assertEquals(List.of("name", "shape", "dtype", "bytes"), table.columnNames());
        assertEquals(cache.size(), table.rowCount());
        assertEquals(
                cache.names().stream().mapToLong(n -> cache.get(n).length() * 4).sum(), bytes);
        assertTrue(has);
        assertTrue(cache.contains("resid_mid1"));
        assertTrue(r.logits() == cache.get("unembed.hook_out"));
        LoupeException e = assertThrows(LoupeException.class, () -> cache.get("blocks.0.attn.hook_patern"));
        assertTrue(e.getMessage().contains("blocks.0.attn.hook_pattern"), e.getMessage());
        ActivationCache partial =
                model.runWithCache(tokens, ActivationFilter.layers(1, 2)).cache();
        assertThrows(LoupeException.class, () -> partial.stack("resid_post"));
    }

    private Set<String> cached(ActivationFilter f) {
        return new HashSet<>(model.runWithCache(tokens, f).cache().names());
    }

    @Test
    void gradients() {
        HookedTransformer model = this.model;
        Tokens tokens = this.tokens;
        // --- docs/hooks.md: Gradients
        ForwardResult g = model.runWithCache(
                tokens,
                ActivationFilter.names("resid_pre1", "pattern0"),
                out -> Losses.nextToken(out.logits(), tokens)); // mean next-token cross-entropy
        double loss = g.objective();
        INDArray dResid = g.cache().get("blocks.1.hook_resid_pre_grad"); // [batch, pos, d_model]
        INDArray dPattern = g.cache().get("blocks.0.attn.hook_pattern_grad");
        INDArray dWQ = g.weightGrads().get("blocks.0.attn.W_Q"); // [n_heads, d_model, d_head]

        Objective neuron =
                out -> out.activation("blocks.1.mlp.hook_post").sliceLast(7, 8).sum();
        ForwardResult n = model.runWithCache(tokens, ActivationFilter.none(), neuron);
        // ---
        assertEquals(model.loss(tokens), loss, 1e-5);
        assertArrayEquals(new long[] {1, 4, 8}, dResid.shape());
        assertArrayEquals(new long[] {1, 2, 4, 4}, dPattern.shape());
        assertArrayEquals(new long[] {2, 8, 4}, dWQ.shape());
        assertTrue(dWQ.amaxNumber().doubleValue() > 0);
        assertEquals(model.stateDict().keySet(), g.weightGrads().keySet());
        for (var e : model.stateDict().entrySet())
            assertArrayEquals(
                    e.getValue().shape(), g.weightGrads().get(e.getKey()).shape(), e.getKey());
        double neuronValue = model.runWithCache(tokens, ActivationFilter.names("post1"))
                .cache()
                .get("post1")
                .get(all(), all(), point(7))
                .sumNumber()
                .doubleValue();
        assertEquals(neuronValue, n.objective(), 1e-5);
        assertEquals(0, n.weightGrads().get("unembed.W_U").amaxNumber().doubleValue(), 0); // not reached

        // _grad only where the objective depends on the point
        ForwardResult layer0 = model.runWithCache(tokens, ActivationFilter.all(), out -> out.activation("resid_post0")
                .sum());
        assertTrue(layer0.cache().contains("blocks.0.hook_resid_pre_grad"));
        assertFalse(layer0.cache().contains("blocks.1.hook_resid_pre_grad"));
        // a replaced activation is a constant: no gradient through it
        ForwardResult replaced = model.forward(ForwardRequest.of(tokens)
                .cache(ActivationFilter.all())
                .hooks(Hook.forward("blocks.1.hook_resid_pre", (a, h) -> a.dup()))
                .gradientsOf(out -> Losses.nextToken(out.logits(), tokens))
                .build());
        assertFalse(replaced.cache().contains("blocks.1.hook_resid_pre_grad"));
        assertEquals(0, replaced.weightGrads().get("embed.W_E").amaxNumber().doubleValue(), 0);
        assertTrue(replaced.weightGrads().get("blocks.1.attn.W_Q").amaxNumber().doubleValue() > 0);
    }

    @Test
    void backwardHooks() {
        HookedTransformer model = this.model;
        Tokens tokens = this.tokens;
        // --- docs/hooks.md: Backward hooks
        Hook cut = Hook.backward("blocks.1.hook_resid_pre", (grad, hook) -> Nd4j.zerosLike(grad));
        ForwardResult cutRun = model.forward(ForwardRequest.of(tokens)
                .hooks(cut)
                .gradientsOf(out -> Losses.nextToken(out.logits(), tokens))
                .build());
        INDArray dWE = cutRun.weightGrads().get("embed.W_E"); // all zeros: nothing reached below block 1
        // ---
        assertEquals(0, dWE.amaxNumber().doubleValue(), 0);
        assertTrue(cutRun.weightGrads().get("blocks.1.mlp.W_in").amaxNumber().doubleValue() > 0);
        // _grad is the gradient as it arrived, before the backward hook replaced it
        ForwardResult seen = model.forward(ForwardRequest.of(tokens)
                .hooks(cut)
                .cache(ActivationFilter.names("resid_pre1"))
                .gradientsOf(out -> Losses.nextToken(out.logits(), tokens))
                .build());
        assertTrue(seen.cache().get("blocks.1.hook_resid_pre_grad").amaxNumber().doubleValue() > 0);
        // ignored in a plain run; a wrong shape names the hook
        assertEquals(0, maxDiff(model.run(tokens), model.runWithHooks(tokens, cut)), 0);
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> model.forward(ForwardRequest.of(tokens)
                        .hooks(Hook.backward("blocks.1.hook_resid_pre", (grad, hook) -> Nd4j.zeros(3)))
                        .gradientsOf(out -> out.logits().sum())
                        .build()));
        assertTrue(e.getMessage().contains("hook 'blocks.1.hook_resid_pre (gradient)'"), e.getMessage());
    }

    @Test
    void partialRuns() {
        HookedTransformer model = this.model;
        Tokens tokens = this.tokens;
        // --- docs/hooks.md: Running part of the model
        ForwardResult front =
                model.forward(ForwardRequest.of(tokens).stopAtLayer(1).build());
        INDArray residual = front.residual(); // [batch, pos, d_model], the input of block 1; front.logits() is null
        INDArray logits = model.forward(
                        ForwardRequest.of(tokens).startAtLayer(1, residual).build())
                .logits();
        // ---
        assertNull(front.logits());
        assertArrayEquals(new long[] {1, 4, 8}, residual.shape());
        assertEquals(
                0,
                maxDiff(
                        residual,
                        model.runWithCache(tokens, ActivationFilter.names("resid_pre1"))
                                .cache()
                                .get("resid_pre1")),
                0);
        assertTrue(maxDiff(model.run(tokens), logits) < 1e-5);
        assertTrue(maxDiff(
                        logits,
                        model.forward(ForwardRequest.of(null)
                                        .startAtLayer(1, residual)
                                        .build())
                                .logits())
                < 1e-6);
        // hooks of block 1 and later do not run when stopping at 1
        List<String> ran = new ArrayList<>();
        model.forward(ForwardRequest.of(tokens)
                .stopAtLayer(1)
                .hooks(Hook.forward(n -> true, (a, h) -> {
                    ran.add(h.name());
                    return null;
                }))
                .build());
        assertEquals("blocks.0.hook_resid_post", ran.get(ran.size() - 1));
    }

    @Test
    void kvCacheHooksSeeOnlyNewPositions() {
        KvCache kv = new KvCache(model.config().nLayers());
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Hook record = Hook.forward(n -> n.startsWith("blocks.0.attn."), (a, h) -> {
            shapes.put(h.name(), a.shape());
            return null;
        });
        model.forward(ForwardRequest.of(tokens).kvCache(kv).hooks(record).build());
        assertArrayEquals(new long[] {1, 4, 2, 4}, shapes.get("blocks.0.attn.hook_k"));
        model.forward(ForwardRequest.of(Tokens.of(new int[] {7}))
                .kvCache(kv)
                .hooks(record)
                .build());
        assertArrayEquals(new long[] {1, 1, 2, 4}, shapes.get("blocks.0.attn.hook_q"));
        assertArrayEquals(new long[] {1, 1, 2, 4}, shapes.get("blocks.0.attn.hook_k"));
        assertArrayEquals(new long[] {1, 2, 1, 5}, shapes.get("blocks.0.attn.hook_attn_scores"));
        assertArrayEquals(new long[] {1, 2, 1, 5}, shapes.get("blocks.0.attn.hook_pattern"));
    }

    @Test
    void scoresAreScaledAndMaskedAndNormalizedIsBeforeTheAffinePart() {
        ModelConfig c = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dHead(4)
                .dMlp(12)
                .dVocab(11)
                .nCtx(16)
                .biases(ModelConfig.Biases.none())
                .build();
        HookedTransformer m = new HookedTransformer(c, dev.loupe.engine.model.Weights.random(c, 3, true));
        ActivationCache cache = m.runWithCache(
                        Tokens.padded(List.of(new int[] {1, 2, 3}, new int[] {4}), 0, Tokens.Side.LEFT),
                        ActivationFilter.all())
                .cache();
        INDArray q = cache.get("q0"), k = cache.get("k0"), scores = cache.get("attn_scores0");
        // head 1, query 2, key 1 of sequence 0
        double dot = 0;
        for (int i = 0; i < 4; i++) dot += q.getDouble(0, 2, 1, i) * k.getDouble(0, 1, 1, i);
        assertEquals(dot / 2, scores.getDouble(0, 1, 2, 1), 1e-5);
        assertEquals(Double.NEGATIVE_INFINITY, scores.getDouble(0, 1, 1, 2)); // future
        assertEquals(Double.NEGATIVE_INFINITY, scores.getDouble(1, 0, 2, 0)); // padding key
        assertEquals(0, cache.get("pattern0").getDouble(1, 0, 2, 0), 0);
        // normalized = (x - mean) / scale, before the affine part (as TransformerLens); the queries read it * w + b
        INDArray x = cache.get("resid_pre0").get(point(0), point(2), all());
        INDArray centred = x.sub(x.meanNumber());
        double scale = cache.get("blocks.0.ln1.hook_scale").getDouble(0, 2, 0);
        INDArray normalized = cache.get("blocks.0.ln1.hook_normalized").get(point(0), point(2), all());
        assertTrue(maxDiff(centred.div(scale), normalized) < 1e-5);
        INDArray affine = normalized
                .mul(m.weights().get("blocks.0.ln1.w"))
                .add(m.weights().get("blocks.0.ln1.b"));
        INDArray queries = affine.reshape(1, 8).mmul(m.weights().get("blocks.0.attn.W_Q"));
        assertTrue(maxDiff(
                        queries.reshape(8),
                        q.get(point(0), point(2), all(), all()).reshape(8))
                < 1e-5);
    }
}
