package dev.loupe.engine.model;

import static dev.loupe.engine.model.GradientCheckTest.TOKENS;
import static dev.loupe.engine.model.GradientCheckTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.loaders.ModelLoader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The researcher's API on the model, as TransformerLens has it: hooks by short name and layer,
 * hooks that edit their activation in place (in plain and differentiated runs), loss and per-token
 * loss with hooks, hooks and a cache in one call, and the attached tokenizer's verbs.
 */
class ResearcherApiTest {
    static final Tokens SEQ = Tokens.of(new int[] {1, 5, 9, 3, 7, 2});

    static double maxDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.sub(b)).maxNumber().doubleValue();
    }

    static HookedTransformer model(String dtype) {
        return TestModels.model(TestModels.all(dtype).get("gpt2-like"), 7);
    }

    @Test
    void hooksByShortNameAndLayerOrCompactName() {
        assertEquals(
                "blocks.1.hook_resid_pre",
                Hook.forward("resid_pre", 1, (a, h) -> null).description());
        assertEquals("blocks.0.attn.hook_z", Hook.forward("z0", (a, h) -> null).description());
        assertEquals(
                "blocks.2.ln2.hook_scale",
                Hook.backward("scale2ln2", (g, h) -> null).description());
        assertEquals(
                "blocks.1.attn.hook_q", Hook.backward("q", 1, (g, h) -> null).description());
        HookedTransformer m = model("float32");
        INDArray byFull = m.runWithHooks(SEQ, Hook.forward("blocks.1.hook_resid_pre", (a, h) -> a.mul(2)));
        INDArray byShort = m.runWithHooks(SEQ, Hook.forward("resid_pre", 1, (a, h) -> a.mul(2)));
        INDArray byCompact = m.runWithHooks(SEQ, Hook.forward("resid_pre1", (a, h) -> a.mul(2)));
        assertTrue(maxDiff(byFull, m.run(SEQ)) > 1e-3);
        assertEquals(0, maxDiff(byFull, byShort));
        assertEquals(0, maxDiff(byFull, byCompact));
        LoupeException e = assertThrows(
                LoupeException.class, () -> m.runWithHooks(SEQ, Hook.forward("resid_pre", 7, (a, h) -> null)));
        assertTrue(e.getMessage().contains("blocks.7.hook_resid_pre"), e.getMessage());
    }

    /** Zeroing head 1 of z in place acts exactly as returning a zeroed copy, in the logits and in the cache. */
    @Test
    void inPlaceEditsActDownstream() {
        HookedTransformer m = model("float32");
        Hook copy = Hook.forward("z", 0, (z, h) -> {
            INDArray out = z.dup();
            out.get(all(), all(), point(1), all()).assign(0);
            return out;
        });
        Hook inPlace = Hook.forward("z", 0, (z, h) -> {
            z.get(all(), all(), point(1), all()).assign(0);
            return null;
        });
        INDArray want = m.runWithHooks(SEQ, copy);
        assertTrue(maxDiff(want, m.run(SEQ)) > 1e-3, "the ablation changes the logits");
        ForwardResult r = m.runWithCache(SEQ, ActivationFilter.names("z0"), inPlace);
        assertEquals(0, maxDiff(want, r.logits()));
        assertEquals(
                0,
                r.cache()
                        .get("z", 0)
                        .get(all(), all(), point(1), all())
                        .norm1Number()
                        .doubleValue());
        // the next hook on the point sees the edit
        List<Double> seen = new ArrayList<>();
        m.runWithHooks(SEQ, inPlace, Hook.forward("z", 0, (z, h) -> {
            seen.add(z.get(all(), all(), point(1), all()).norm1Number().doubleValue());
            return null;
        }));
        assertEquals(List.of(0.0), seen);
        // and a differentiated run gives the same values
        ForwardResult d = m.forward(ForwardRequest.of(SEQ)
                .hooks(inPlace)
                .gradientsOf(out -> out.logits().sum())
                .build());
        assertTrue(maxDiff(want, d.logits()) < 1e-6);
    }

    /**
     * In a differentiated run an in-place edit is an assignment: the edited elements pass no
     * gradient, the rest do; every gradient matches finite differences of the edited model.
     */
    @Test
    void inPlaceEditsInADifferentiatedRunMatchFiniteDifferences() {
        ModelConfig cfg = TestModels.all("float64").get("gpt2-like");
        HookedTransformer m = TestModels.model(cfg, 11);
        Objective o = GradientCheckTest.objective(cfg);
        Hook zeroHead1 = Hook.forward("z", 0, (z, h) -> {
            z.get(all(), all(), point(1), all()).assign(0);
            return null;
        });
        ForwardResult r = m.forward(ForwardRequest.of(TOKENS)
                .hooks(zeroHead1)
                .cache(ActivationFilter.names("v0", "embed"))
                .gradientsOf(o)
                .build());
        INDArray vGrad = r.cache().get("blocks.0.attn.hook_v_grad"); // [batch, pos, head, d_head]
        assertEquals(0, vGrad.get(all(), all(), point(1), all()).norm1Number().doubleValue());
        assertTrue(vGrad.get(all(), all(), point(0), all()).norm1Number().doubleValue() > 1e-6);
        // finite differences with the edit in place
        long[][] elements = {{0, 3, 0, 1}, {1, 4, 0, 0}, {0, 4, 1, 2}};
        for (long[] at : elements) {
            double[] vals = new double[2];
            for (int s = 0; s < 2; s++) {
                double delta = s == 0 ? GradientCheckTest.EPS : -GradientCheckTest.EPS;
                vals[s] = GradientCheckTest.value(m, o, zeroHead1, Hook.forward("v", 0, (v, h) -> {
                    v.putScalar(at, v.getDouble(at) + delta);
                    return null;
                }));
            }
            assertClose(
                    (vals[0] - vals[1]) / (2 * GradientCheckTest.EPS),
                    vGrad.getDouble(at),
                    "v0" + java.util.Arrays.toString(at));
        }
        INDArray embedGrad = r.cache().get("hook_embed_grad");
        long[] at = {0, 2, 3};
        double[] vals = new double[2];
        for (int s = 0; s < 2; s++) {
            double delta = s == 0 ? GradientCheckTest.EPS : -GradientCheckTest.EPS;
            vals[s] = GradientCheckTest.value(m, o, zeroHead1, Hook.forward("hook_embed", (x, h) -> {
                x.putScalar(at, x.getDouble(at) + delta);
                return null;
            }));
        }
        assertClose((vals[0] - vals[1]) / (2 * GradientCheckTest.EPS), embedGrad.getDouble(at), "embed");
    }

    @Test
    void lossAndPerTokenLossTakeHooks() {
        HookedTransformer m = model("float32");
        Hook ablate = Hook.forward("z", 1, (z, h) -> {
            z.assign(0);
            return null;
        });
        INDArray perToken = m.perTokenLoss(SEQ);
        assertArrayEquals(new long[] {1, SEQ.length() - 1}, perToken.shape());
        assertEquals(m.loss(SEQ), perToken.meanNumber().doubleValue(), 1e-5);
        double ablated = m.loss(SEQ, ablate);
        assertTrue(Math.abs(ablated - m.loss(SEQ)) > 1e-4);
        INDArray logits = m.runWithHooks(SEQ, ablate);
        try (Graph g = Graph.inference()) {
            assertEquals(Losses.nextToken(g.constant(logits), SEQ).item(), ablated, 1e-6);
            assertTrue(maxDiff(Losses.perPosition(g.constant(logits), SEQ).data(), m.perTokenLoss(SEQ, ablate)) < 1e-6);
        }
    }

    @Test
    void withoutATokenizerTheErrorSaysHowToAttachOne() {
        HookedTransformer m = model("float32");
        assertFalse(m.hasTokenizer());
        LoupeException e = assertThrows(LoupeException.class, () -> m.toTokens("hi"));
        assertTrue(e.getMessage().contains("setTokenizer"), e.getMessage());
    }

    /** The tokenizer verbs on GPT-2's tokenizer (ids from GPT-2's vocab.json), attached by the loader. */
    @Test
    void theTokenizerVerbs(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("model");
        TestModels.savedWithGpt2Tokenizer(dir);
        HookedTransformer m = ModelLoader.load(dir.toString());
        assertTrue(m.hasTokenizer());
        assertTrue(m.useAttnResult(true).hasTokenizer());

        String prompt = "When Mary and John went out, John gave it to";
        Tokens t = m.toTokens(prompt);
        assertEquals(50256, t.ids()[0][0]); // <|endoftext|> as BOS, as TransformerLens prepends it
        assertEquals(List.of("<|endoftext|>", "When", " Mary", " and", " John"), m.toStrTokens("When Mary and John"));
        assertEquals(List.of(" Mary", " and"), m.toStrTokens(5335, 290));
        assertEquals(m.toStrTokens(t.ids()[0]), m.toStrTokens(prompt));
        assertEquals(5335, m.toSingleToken(" Mary"));
        assertEquals(1757, m.toSingleToken(" John"));
        LoupeException e = assertThrows(LoupeException.class, () -> m.toSingleToken(" Mary and"));
        assertTrue(e.getMessage().contains("' Mary and' is not a single token"), e.getMessage());
        assertEquals(4, m.getTokenPosition(" John", prompt));
        assertEquals(8, m.getTokenPosition(1757, t.ids()[0], "last"));
        assertThrows(LoupeException.class, () -> m.getTokenPosition(" Paris", prompt));
        assertThrows(LoupeException.class, () -> m.getTokenPosition(1757, t.ids()[0], "middle"));
        assertTrue(maxDiff(m.run(prompt), m.run(t)) == 0);
        assertEquals(m.loss(t), m.loss(prompt), 0);

        // testPrompt: prompt + answer tokenized together, each answer token ranked at the position before it
        PromptTest test = m.testPrompt(prompt, "Mary had");
        assertEquals(m.toStrTokens(prompt), test.promptTokens());
        assertEquals(2, test.answers().size());
        INDArray logits = m.run(m.toTokens(prompt + " Mary had")).slice(0);
        int n = test.promptTokens().size();
        for (int i = 0; i < 2; i++) {
            PromptTest.AnswerToken a = test.answers().get(i);
            INDArray row = logits.getRow(n + i - 1).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
            assertEquals(row.getDouble(a.id()), a.logit(), 1e-5);
            INDArray probs = Transforms.softmax(row.reshape(1, -1), true);
            assertEquals(probs.getDouble(a.id()), a.prob(), 1e-6);
            assertEquals(
                    row.gt(row.getDouble(a.id()))
                            .castTo(org.nd4j.linalg.api.buffer.DataType.INT)
                            .sumNumber()
                            .intValue(),
                    a.rank());
            assertEquals(10, a.top().size());
            assertEquals(row.argMax().getInt(0), a.top().get(0).id());
            for (int k = 1; k < 10; k++)
                assertTrue(a.top().get(k - 1).prob() >= a.top().get(k).prob());
        }
        assertEquals(" Mary", test.answers().get(0).token());
        assertEquals(5335, test.answers().get(0).id());
        assertEquals(2, test.table().rowCount());
        assertTrue(
                test.toString().contains("Ranks of the answer tokens: [(' Mary', " + test.ranks()[0] + ")"),
                test.toString());
    }
}
