package dev.loupe.engine.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.model.Weights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Every processing step on random models whose every parameter (norm weights and biases included)
 * is random: logits keep their meaning, the config says what changed, the input is never touched.
 */
class WeightProcessingTest {

    private static ModelConfig.Builder base() {
        return ModelConfig.builder()
                .dModel(32)
                .nLayers(2)
                .nHeads(4)
                .dHead(8)
                .dMlp(48)
                .dVocab(53)
                .nCtx(16)
                .normEps(1e-5);
    }

    /** Named architectures, each in float32 and float64. */
    static Stream<Arguments> models() {
        Map<String, ModelConfig.Builder> m = new LinkedHashMap<>();
        m.put(
                "LN, learned, GELU_NEW, all biases",
                base().normalization(Normalization.LAYER_NORM)
                        .positional(Positional.LEARNED)
                        .activation(Activation.GELU_NEW)
                        .biases(Biases.all()));
        m.put(
                "RMS, rotary, SwiGLU, GQA, no biases",
                base().normalization(Normalization.RMS_NORM)
                        .positional(Positional.ROTARY)
                        .rotaryDim(4)
                        .activation(Activation.SILU_GATED)
                        .nKvHeads(2)
                        .biases(Biases.none()));
        m.put(
                "RMS, rotary, SwiGLU, GQA, qkv biases only",
                base().normalization(Normalization.RMS_NORM)
                        .positional(Positional.ROTARY)
                        .activation(Activation.SILU_GATED)
                        .nKvHeads(2)
                        .biases(new Biases(true, false, false, false, false)));
        m.put(
                "LN, parallel attn+MLP, rotary, all biases",
                base().normalization(Normalization.LAYER_NORM)
                        .positional(Positional.ROTARY)
                        .rotaryDim(4)
                        .parallelAttnMlp(true)
                        .activation(Activation.GELU_NEW)
                        .biases(Biases.all()));
        m.put(
                "LN, attention-only, all biases",
                base().normalization(Normalization.LAYER_NORM)
                        .positional(Positional.LEARNED)
                        .attnOnly(true)
                        .biases(Biases.all()));
        m.put(
                "LN, tied embeddings, all biases",
                base().normalization(Normalization.LAYER_NORM)
                        .positional(Positional.LEARNED)
                        .tiedEmbeddings(true)
                        .activation(Activation.GELU)
                        .biases(Biases.all()));
        m.put(
                "LN, no biases (folding creates them)",
                base().normalization(Normalization.LAYER_NORM)
                        .positional(Positional.LEARNED)
                        .activation(Activation.RELU)
                        .biases(Biases.none()));
        m.put(
                "RMS, tied, GeGLU, MQA, no biases",
                base().normalization(Normalization.RMS_NORM)
                        .positional(Positional.ROTARY)
                        .activation(Activation.GELU_GATED)
                        .nKvHeads(1)
                        .tiedEmbeddings(true)
                        .biases(Biases.none()));
        List<Arguments> out = new ArrayList<>();
        for (String dtype : List.of("float32", "float64"))
            m.forEach((name, b) -> out.add(
                    Arguments.of(name + " [" + dtype + "]", b.dtype(dtype).build())));
        return out.stream();
    }

    private static double tol(ModelConfig c) {
        return c.dtype().equals("float64") ? 1e-9 : 1e-4;
    }

    private static HookedTransformer randomModel(ModelConfig c) {
        return new HookedTransformer(c, Weights.random(c, 1234, true));
    }

    private static List<Tokens> inputs(ModelConfig c) {
        Random r = new Random(42);
        int[][] plain = new int[2][10];
        for (int[] row : plain) for (int i = 0; i < row.length; i++) row[i] = r.nextInt(c.dVocab());
        int[] a = new int[7], b = new int[12];
        for (int i = 0; i < a.length; i++) a[i] = r.nextInt(c.dVocab());
        for (int i = 0; i < b.length; i++) b[i] = r.nextInt(c.dVocab());
        return List.of(Tokens.of(plain), Tokens.padded(List.of(a, b), 0, Tokens.Side.LEFT));
    }

    // ------------------------------------------------------------------ the invariances

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void foldLayerNormKeepsLogitsExactly(String name, ModelConfig c) {
        HookedTransformer p = checkStep(c, WeightProcessing::foldLayerNorm, true);
        Normalization want = c.normalization() == Normalization.LAYER_NORM
                ? Normalization.LAYER_NORM_PRE
                : Normalization.RMS_NORM_PRE;
        assertEquals(want, p.config().normalization());
        assertFalse(p.config().tiedEmbeddings(), "folding ln_final unties the embeddings");
        assertNotNull(p.weights().find("unembed.W_U"));
        for (String n : p.weights().names()) assertFalse(n.startsWith("ln_final") || n.contains(".ln"), n);
        if (c.normalization() == Normalization.LAYER_NORM) {
            // Random ln biases are non-zero: every reader now has a bias.
            assertTrue(p.config().biases().qkv());
            assertTrue(p.config().biases().unembed());
            if (!c.attnOnly()) assertTrue(p.config().biases().mlpIn());
            // Centred along d_model (the input dimension of each reader).
            assertZeroMean(p.weights().get("blocks.1.attn.W_K").mean(0), c);
            assertZeroMean(p.weights().get("unembed.W_U").mean(0), c);
        } else {
            assertEquals(c.biases(), p.config().biases(), "RMSNorm has no bias to fold");
        }
        // A second fold has nothing left to do.
        HookedTransformer twice = WeightProcessing.foldLayerNorm(p);
        assertEquals(p.config(), twice.config());
        assertClose(p.run(inputs(c).get(0)), twice.run(inputs(c).get(0)), 0, "fold of a folded model");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void centerWritingWeightsKeepsLogits(String name, ModelConfig c) {
        if (!c.normalization().centers()) {
            HookedTransformer m = randomModel(c);
            LoupeException e = assertThrows(LoupeException.class, () -> WeightProcessing.centerWritingWeights(m));
            assertTrue(e.getMessage().contains(c.normalization().name()), e.getMessage());
            return;
        }
        HookedTransformer p = checkStep(c, WeightProcessing::centerWritingWeights, false);
        assertEquals(c.normalization(), p.config().normalization());
        assertFalse(p.config().tiedEmbeddings());
        assertZeroMean(p.weights().get("embed.W_E").mean(1), c);
        if (c.positional() == Positional.LEARNED)
            assertZeroMean(p.weights().get("pos_embed.W_pos").mean(1), c);
        assertZeroMean(p.weights().get("blocks.0.attn.W_O").mean(1), c);
        if (c.biases().attnOut())
            assertZeroMean(p.weights().get("blocks.1.attn.b_O").mean(), c);
        if (!c.attnOnly()) assertZeroMean(p.weights().get("blocks.1.mlp.W_out").mean(1), c);
        // Writing weights are centred, so is the residual stream.
        INDArray resid = p.runWithCache(inputs(c).get(0), ActivationFilter.names("blocks.1.hook_resid_pre"))
                .cache()
                .get("blocks.1.hook_resid_pre");
        assertZeroMean(resid.mean(2), c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void centerUnembedKeepsLogSoftmax(String name, ModelConfig c) {
        HookedTransformer p = checkStep(c, WeightProcessing::centerUnembed, false);
        assertEquals(c.normalization(), p.config().normalization());
        assertFalse(p.config().tiedEmbeddings());
        assertZeroMean(p.weights().get("unembed.W_U").mean(1), c);
        if (c.biases().unembed()) assertZeroMean(p.weights().get("unembed.b_U").mean(), c);
        // logits = x @ W_U + b_U with both centred over the vocabulary: every position's logits have zero mean.
        assertZeroMean(p.run(inputs(c).get(0)).mean(2), c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void foldValueBiasesKeepsLogitsExactly(String name, ModelConfig c) {
        HookedTransformer p = checkStep(c, WeightProcessing::foldValueBiases, true);
        assertEquals(c.normalization(), p.config().normalization());
        if (c.biases().qkv()) {
            assertTrue(p.config().biases().attnOut(), "b_O is created when needed");
            for (int l = 0; l < c.nLayers(); l++)
                assertEquals(
                        0.0,
                        p.weights()
                                .get("blocks." + l + ".attn.b_V")
                                .amaxNumber()
                                .doubleValue());
        } else {
            assertEquals(c.biases(), p.config().biases());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void processKeepsLogSoftmax(String name, ModelConfig c) {
        HookedTransformer p = checkStep(c, WeightProcessing::process, false);
        Normalization want = c.normalization() == Normalization.LAYER_NORM
                ? Normalization.LAYER_NORM_PRE
                : Normalization.RMS_NORM_PRE;
        assertEquals(want, p.config().normalization());
        assertFalse(p.config().tiedEmbeddings());
        assertZeroMean(p.weights().get("unembed.W_U").mean(1), c);
        if (c.normalization().centers())
            assertZeroMean(p.weights().get("embed.W_E").mean(1), c);
        if (p.config().biases().qkv())
            assertEquals(0.0, p.weights().get("blocks.0.attn.b_V").amaxNumber().doubleValue());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void processWithOnlyFoldingStepsKeepsLogitsExactly(String name, ModelConfig c) {
        var opts = WeightProcessing.Options.none().withFoldLn(true).withFoldValueBiases(true);
        checkStep(c, m -> WeightProcessing.process(m, opts), true);
        checkStep(c, m -> WeightProcessing.process(m, WeightProcessing.Options.none()), true);
    }

    /**
     * Runs a step on a random model and checks: logits agree (raw when {@code exact}, and always
     * after removing each position's mean over the vocabulary, and log-softmax), and the input
     * model's config, weights and logits are untouched.
     */
    private static HookedTransformer checkStep(ModelConfig c, UnaryOperator<HookedTransformer> step, boolean exact) {
        HookedTransformer m = randomModel(c);
        Map<String, INDArray> snapshot = new LinkedHashMap<>();
        m.weights().asMap().forEach((n, a) -> snapshot.put(n, a.dup()));
        List<Tokens> inputs = inputs(c);
        List<INDArray> before = inputs.stream().map(m::run).toList();

        HookedTransformer p = step.apply(m);
        assertTrue(p != m);
        for (int i = 0; i < inputs.size(); i++) {
            INDArray after = p.run(inputs.get(i));
            assertClose(centered(before.get(i)), centered(after), tol(c), "log-softmax, input " + i);
            assertClose(logSoftmax(before.get(i)), logSoftmax(after), tol(c), "log-softmax, input " + i);
            if (exact) assertClose(before.get(i), after, tol(c), "raw logits, input " + i);
        }

        // The input is untouched: same config, bit-identical weights and logits.
        assertUnchanged(m, snapshot, c);
        for (int i = 0; i < inputs.size(); i++)
            assertClose(before.get(i), m.run(inputs.get(i)), 0, "original model's logits after processing");
        return p;
    }

    private static void assertUnchanged(HookedTransformer m, Map<String, INDArray> snapshot, ModelConfig c) {
        assertEquals(c, m.config());
        assertEquals(snapshot.keySet(), m.weights().names());
        snapshot.forEach((n, a) -> assertClose(a, m.weights().get(n), 0, "input weight " + n + " was modified"));
    }

    @Test
    void resultsShareNoArrayWithTheirInput() {
        List<UnaryOperator<HookedTransformer>> ops = List.of(
                WeightProcessing::foldLayerNorm,
                WeightProcessing::centerWritingWeights,
                WeightProcessing::centerUnembed,
                WeightProcessing::foldValueBiases,
                WeightProcessing::process,
                m -> WeightProcessing.process(m, WeightProcessing.Options.none()));
        ModelConfig c = base().tiedEmbeddings(true).dtype("float64").build();
        HookedTransformer m = randomModel(c);
        Map<String, INDArray> snapshot = new LinkedHashMap<>();
        m.weights().asMap().forEach((n, a) -> snapshot.put(n, a.dup()));
        for (UnaryOperator<HookedTransformer> op : ops) {
            HookedTransformer p = op.apply(m);
            p.weights().asMap().values().forEach(a -> a.addi(1)); // scribble on every array of the result
            assertUnchanged(m, snapshot, c);
        }
    }

    // ------------------------------------------------------------------ edge cases

    @Test
    void centerWritingWeightsRejectsNormsThatDoNotCenter() {
        for (Normalization n : List.of(Normalization.RMS_NORM, Normalization.RMS_NORM_PRE, Normalization.NONE)) {
            ModelConfig c = base().normalization(n).build();
            HookedTransformer m = randomModel(c);
            LoupeException e = assertThrows(LoupeException.class, () -> WeightProcessing.centerWritingWeights(m));
            assertTrue(e.getMessage().contains("does not subtract the mean"), e.getMessage());
        }
        // process() skips the step for such models, as TransformerLens does, instead of failing.
        ModelConfig rms = base().normalization(Normalization.RMS_NORM).build();
        HookedTransformer p = WeightProcessing.process(randomModel(rms));
        assertEquals(Normalization.RMS_NORM_PRE, p.config().normalization());
    }

    @Test
    void foldingAGatedMlpBehindALayerNormBiasIsRefused() {
        ModelConfig c = base().normalization(Normalization.LAYER_NORM)
                .activation(Activation.SILU_GATED)
                .dtype("float64")
                .build();
        HookedTransformer m = randomModel(c);
        LoupeException e = assertThrows(LoupeException.class, () -> WeightProcessing.foldLayerNorm(m));
        assertTrue(e.getMessage().contains("W_gate"), e.getMessage());

        // With ln2.b = 0 there is nothing to put on W_gate, and the fold is exact.
        Map<String, INDArray> w = new LinkedHashMap<>(m.weights().asMap());
        for (int l = 0; l < c.nLayers(); l++)
            w.put("blocks." + l + ".ln2.b", Nd4j.zeros(w.get("blocks.0.ln2.b").dataType(), c.dModel()));
        HookedTransformer zeroB = new HookedTransformer(c, new Weights(w));
        Tokens t = inputs(c).get(0);
        HookedTransformer folded = WeightProcessing.foldLayerNorm(zeroB);
        assertEquals(Normalization.LAYER_NORM_PRE, folded.config().normalization());
        assertClose(zeroB.run(t), folded.run(t), 1e-9, "gated fold with ln2.b = 0");
        assertClose(
                centered(zeroB.run(t)), centered(WeightProcessing.process(zeroB).run(t)), 1e-9, "process");
    }

    @Test
    void foldingKeepsEveryHookIncludingTheNormalizedOne() {
        ModelConfig c =
                base().normalization(Normalization.LAYER_NORM).dtype("float64").build();
        HookedTransformer m = randomModel(c);
        HookedTransformer f = WeightProcessing.foldLayerNorm(m);
        Tokens t = inputs(c).get(0);
        var before = m.runWithCache(t, ActivationFilter.all()).cache();
        var after = f.runWithCache(t, ActivationFilter.all()).cache();
        for (String n : List.of(
                "blocks.0.attn.hook_q",
                "blocks.1.attn.hook_k",
                "blocks.1.attn.hook_v",
                "blocks.0.mlp.hook_pre",
                "blocks.1.hook_resid_post",
                "blocks.0.ln1.hook_scale",
                // As TransformerLens hooks it, before the affine part: what folding moves elsewhere.
                "blocks.0.ln1.hook_normalized",
                "ln_final.hook_normalized")) assertClose(before.get(n), after.get(n), 1e-9, n);
    }

    @Test
    void foldingWithoutCentringKeepsTheFoldedWeightsMeans() {
        ModelConfig c =
                base().normalization(Normalization.LAYER_NORM).dtype("float64").build();
        HookedTransformer m = randomModel(c);
        HookedTransformer f = WeightProcessing.foldLayerNorm(m, false);
        Tokens t = inputs(c).get(1);
        assertClose(m.run(t), f.run(t), 1e-9, "uncentred fold");
        INDArray w = m.weights().get("blocks.0.ln1.w").reshape(c.dModel(), 1);
        assertClose(
                m.weights().get("blocks.0.attn.W_Q").mulColumnVector(w),
                f.weights().get("blocks.0.attn.W_Q"),
                1e-15,
                "W_Q = w[:, None] * W_Q");
        INDArray b = m.weights().get("blocks.0.ln1.b").reshape(1, c.dModel());
        assertClose(
                m.weights()
                        .get("blocks.0.attn.b_V")
                        .add(b.mmul(m.weights().get("blocks.0.attn.W_V")).reshape(-1)),
                f.weights().get("blocks.0.attn.b_V"),
                1e-12,
                "b_V += b_ln @ W_V");
    }

    @Test
    void noNormalizationFoldIsACopy() {
        ModelConfig c =
                base().normalization(Normalization.NONE).dtype("float64").build();
        HookedTransformer m = randomModel(c);
        HookedTransformer f = WeightProcessing.foldLayerNorm(m);
        assertEquals(c, f.config());
        assertClose(m.run(inputs(c).get(0)), f.run(inputs(c).get(0)), 0, "no-op");
        assertTrue(f.weights().get("embed.W_E") != m.weights().get("embed.W_E"));
    }

    @Test
    void foldValueBiasesWithoutValueBiasesIsACopy() {
        ModelConfig c = base().biases(Biases.none()).dtype("float64").build();
        HookedTransformer m = randomModel(c);
        HookedTransformer f = WeightProcessing.foldValueBiases(m);
        assertEquals(c, f.config());
        assertNull(f.weights().find("blocks.0.attn.b_O"));
    }

    // ------------------------------------------------------------------ helpers

    /** Logits minus each position's mean over the vocabulary. */
    private static INDArray centered(INDArray logits) {
        long v = logits.size(2);
        INDArray flat = logits.dup('c').reshape(logits.length() / v, v);
        return flat.subColumnVector(flat.mean(1).reshape(flat.size(0), 1));
    }

    private static INDArray logSoftmax(INDArray logits) {
        long v = logits.size(2);
        INDArray flat = logits.dup('c').reshape(logits.length() / v, v);
        INDArray shifted = flat.subColumnVector(flat.max(1).reshape(flat.size(0), 1));
        INDArray lse =
                Transforms.log(Transforms.exp(shifted, true).sum(1), false).reshape(flat.size(0), 1);
        return shifted.subColumnVector(lse);
    }

    private static double maxAbsDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.sub(b), false).maxNumber().doubleValue();
    }

    private static void assertClose(INDArray want, INDArray got, double tol, String what) {
        assertEquals(want.dataType(), got.dataType(), what);
        assertTrue(java.util.Arrays.equals(want.shape(), got.shape()), what + ": shape");
        double d = maxAbsDiff(want, got);
        assertTrue(d <= tol, what + ": max |difference| " + d + " > " + tol);
    }

    private static void assertZeroMean(INDArray means, ModelConfig c) {
        double m = Transforms.abs(means, true).maxNumber().doubleValue();
        assertTrue(m <= tol(c) * 1e-1, "mean should be zero, got " + m);
    }
}
