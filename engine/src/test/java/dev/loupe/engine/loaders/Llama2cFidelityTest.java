package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.generate.GenerationResult;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * stories260K loaded from its llama2.c checkpoint against llama2.c's own {@code run.c}: the logits at
 * every position and the greedy continuation. Skipped when the shared reference data is absent.
 */
class Llama2cFidelityTest {
    static final double TOLERANCE = 1e-4;

    @BeforeAll
    static void requireData() {
        Stories260K.assumeAvailable();
    }

    @Test
    void headerMapsOntoTheConfig() {
        Llama2cHeader h = Llama2cCheckpoint.readHeader(Stories260K.bin());
        assertEquals(new Llama2cHeader(64, 172, 5, 8, 4, 512, 512, true), h);
        ModelConfig c = h.toModelConfig();
        assertEquals(8, c.dHead());
        assertEquals(8, c.rotaryDim());
        assertEquals(2, c.nKvGroups());
        assertTrue(c.tiedEmbeddings());
        assertEquals(ModelConfig.Activation.SILU_GATED, c.activation());
        assertEquals(ModelConfig.Normalization.RMS_NORM, c.normalization());
        assertEquals(1e-5, c.normEps());
    }

    /** The reference's 64 input tokens are BOS followed by the first 63 greedy tokens. */
    @Test
    void inputTokensAreBosThenTheGreedyContinuation() {
        int[] input = Stories260K.inputTokens(), greedy = Stories260K.greedyFromBos();
        assertEquals(64, input.length);
        assertEquals(1, input[0]);
        assertArrayEquals(Arrays.copyOf(greedy, 63), Arrays.copyOfRange(input, 1, 64));
    }

    @Test
    void logitsMatchRunCAtEveryPosition() {
        HookedTransformer model = Llama2cCheckpoint.load(Stories260K.bin());
        INDArray expected = Stories260K.logits(); // [64, 512]
        INDArray actual =
                model.run(Stories260K.inputTokens()).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        assertArrayEquals(expected.shape(), actual.shape());
        INDArray diff = Transforms.abs(actual.sub(expected), false).max(1); // [64]
        double max = diff.maxNumber().doubleValue();
        System.out.printf("stories260K logits vs run.c: max |diff| %.3g over %d positions%n", max, expected.size(0));
        for (int p = 0; p < diff.length(); p++)
            assertTrue(diff.getDouble(p) <= TOLERANCE, "position " + p + ": max |diff| " + diff.getDouble(p));
    }

    @Test
    void greedyContinuationFromBosMatchesRunC() {
        HookedTransformer model = Llama2cCheckpoint.load(Stories260K.bin());
        int[] expected = Stories260K.greedyFromBos();
        SamplingConfig cached = SamplingConfig.greedy(expected.length);
        GenerationResult withCache = Generator.generate(model, Tokens.of(new int[] {1}), cached);
        GenerationResult recomputed = Generator.generate(
                model,
                Tokens.of(new int[] {1}),
                cached.toBuilder().useKvCache(false).build());
        assertArrayEquals(expected, withCache.generated(0), "with the KV cache");
        assertArrayEquals(expected, recomputed.generated(0), "recomputing the whole sequence each step");
    }

    /** Rotate-half applied to llama2.c's interleaved q/k weights is a different (wrong) model. */
    @Test
    void withoutTheRopePermutationTheLogitsAreWrong() {
        HookedTransformer wrong = Llama2cCheckpoint.load(Stories260K.bin(), false);
        INDArray expected = Stories260K.logits();
        INDArray actual =
                wrong.run(Stories260K.inputTokens()).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        double max = Transforms.abs(actual.sub(expected), false).maxNumber().doubleValue();
        System.out.printf("stories260K without the RoPE permutation: max |diff| %.3g%n", max);
        assertTrue(max > 0.1, "unpermuted weights should not reproduce run.c, max |diff| " + max);
        // Position 0 attends only to itself, where the rotation is the identity: it must still agree.
        double first = Transforms.abs(actual.getRow(0).sub(expected.getRow(0)), false)
                .maxNumber()
                .doubleValue();
        assertTrue(first <= TOLERANCE, "position 0 does not depend on RoPE, max |diff| " + first);
    }
}
