package dev.loupe.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.GenerationResult.FinishReason;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

class GeneratorTest {
    static final int N = 8;

    static List<HookedTransformer> models() {
        return TinyModels.all();
    }

    static Tokens leftPadded() {
        return Tokens.padded(
                List.of(TinyModels.randomTokens(5, 21), TinyModels.randomTokens(2, 22), TinyModels.randomTokens(7, 23)),
                0,
                Tokens.Side.LEFT);
    }

    @ParameterizedTest
    @MethodSource("models")
    void greedyIsTheSameWithAndWithoutKvCache(HookedTransformer model) {
        Tokens prompt = leftPadded();
        GenerationResult cached = Generator.generate(model, prompt, SamplingConfig.greedy(N));
        GenerationResult recomputed = Generator.generate(
                model,
                prompt,
                SamplingConfig.greedy(N).toBuilder().useKvCache(false).build());
        for (int b = 0; b < prompt.batch(); b++) {
            assertEquals(N, cached.generated(b).length);
            assertArrayEquals(recomputed.sequence(b), cached.sequence(b), "row " + b);
        }
    }

    @ParameterizedTest
    @MethodSource("models")
    void eachPaddedRowContinuesAsItWouldAlone(HookedTransformer model) {
        List<int[]> prompts =
                List.of(TinyModels.randomTokens(5, 31), TinyModels.randomTokens(2, 32), TinyModels.randomTokens(7, 33));
        GenerationResult left =
                Generator.generate(model, Tokens.padded(prompts, 0, Tokens.Side.LEFT), SamplingConfig.greedy(N));
        GenerationResult right =
                Generator.generate(model, Tokens.padded(prompts, 0, Tokens.Side.RIGHT), SamplingConfig.greedy(N));
        for (int b = 0; b < prompts.size(); b++) {
            GenerationResult alone = Generator.generate(model, Tokens.of(prompts.get(b)), SamplingConfig.greedy(N));
            assertArrayEquals(alone.sequence(0), left.sequence(b), "left-padded row " + b);
            assertArrayEquals(alone.sequence(0), right.sequence(b), "right-padded row " + b);
            assertArrayEquals(
                    prompts.get(b), Arrays.copyOf(left.sequence(b), prompts.get(b).length), "prompt without padding");
        }
    }

    @Test
    void sameSeedSameSamplesDifferentSeedDifferentSamples() {
        HookedTransformer model = TinyModels.gpt2();
        Tokens prompt = leftPadded();
        SamplingConfig cfg = SamplingConfig.builder()
                .temperature(1)
                .seed(42)
                .maxNewTokens(12)
                .build();
        GenerationResult a = Generator.generate(model, prompt, cfg);
        GenerationResult b = Generator.generate(model, prompt, cfg);
        GenerationResult noCache = Generator.generate(
                model, prompt, cfg.toBuilder().useKvCache(false).build());
        GenerationResult other =
                Generator.generate(model, prompt, cfg.toBuilder().seed(43).build());
        for (int r = 0; r < prompt.batch(); r++) {
            assertArrayEquals(a.generated(r), b.generated(r), "same seed, row " + r);
            assertArrayEquals(a.generated(r), noCache.generated(r), "same seed without KV cache, row " + r);
        }
        assertFalse(
                Arrays.deepEquals(a.generated().toArray(), other.generated().toArray()),
                "seeds 42 and 43 sampled the same");
        // Row 0 of a batch draws the same random numbers as a batch of one.
        GenerationResult alone = Generator.generate(model, Tokens.of(TinyModels.randomTokens(5, 21)), cfg);
        assertArrayEquals(a.generated(0), alone.generated(0));
    }

    @ParameterizedTest
    @MethodSource("models")
    void topKOneAndTinyTopPEqualGreedy(HookedTransformer model) {
        Tokens prompt = leftPadded();
        GenerationResult greedy = Generator.generate(model, prompt, SamplingConfig.greedy(N));
        SamplingConfig hot = SamplingConfig.builder()
                .temperature(1.5)
                .seed(7)
                .maxNewTokens(N)
                .build();
        GenerationResult topK =
                Generator.generate(model, prompt, hot.toBuilder().topK(1).build());
        GenerationResult topP =
                Generator.generate(model, prompt, hot.toBuilder().topP(1e-9).build());
        for (int b = 0; b < prompt.batch(); b++) {
            assertArrayEquals(greedy.generated(b), topK.generated(b), "top-k 1, row " + b);
            assertArrayEquals(greedy.generated(b), topP.generated(b), "top-p 1e-9, row " + b);
        }
    }

    /** A logits hook that makes row b produce script[b][step] at each step. */
    static Hook scripted(int[][] script) {
        AtomicInteger step = new AtomicInteger();
        return Hook.forward("unembed.hook_out", (logits, h) -> {
            int s = step.getAndIncrement();
            INDArray out = logits.dup();
            for (int b = 0; b < script.length; b++)
                out.putScalar(new long[] {b, out.size(1) - 1, script[b][Math.min(s, script[b].length - 1)]}, 1e4);
            return out;
        });
    }

    @ParameterizedTest
    @MethodSource("kvModes")
    void stopTokenStopsOnlyThatRow(boolean kv) {
        HookedTransformer model = TinyModels.gpt2();
        int[][] script = {{5, 6, 9, 4, 4, 4}, {5, 6, 7, 8, 3, 2}, {9, 1, 1, 1, 1, 1}};
        SamplingConfig cfg = SamplingConfig.builder()
                .temperature(1)
                .maxNewTokens(6)
                .stopTokens(9)
                .useKvCache(kv)
                .build();
        List<int[]> calls = new ArrayList<>();
        GenerationResult r = Generator.generate(
                model, leftPadded(), cfg, List.of(scripted(script)), (b, t, s) -> calls.add(new int[] {b, t, s}));
        assertArrayEquals(new int[] {5, 6, 9}, r.generated(0));
        assertArrayEquals(new int[] {5, 6, 7, 8, 3, 2}, r.generated(1));
        assertArrayEquals(new int[] {9}, r.generated(2));
        assertEquals(
                List.of(FinishReason.STOP_TOKEN, FinishReason.MAX_NEW_TOKENS, FinishReason.STOP_TOKEN),
                List.of(r.finishReason(0), r.finishReason(1), r.finishReason(2)));
        assertEquals(3 + 6 + 1, calls.size(), "no tokens reported after a row stopped");
    }

    static List<Boolean> kvModes() {
        return List.of(true, false);
    }

    @Test
    void generationEndsWhenEveryRowHasStopped() {
        HookedTransformer model = TinyModels.gpt2();
        AtomicInteger passes = new AtomicInteger();
        Hook count = Hook.forward("hook_embed", (x, h) -> {
            passes.incrementAndGet();
            return null;
        });
        int[][] script = {{1, 2, 3}, {1, 3}, {3}};
        GenerationResult r = Generator.generate(
                model,
                leftPadded(),
                SamplingConfig.builder()
                        .temperature(0)
                        .maxNewTokens(20)
                        .stopTokens(3)
                        .build(),
                List.of(count, scripted(script)),
                TokenListener.none());
        assertArrayEquals(new int[] {1, 2, 3}, r.generated(0));
        assertArrayEquals(new int[] {1, 3}, r.generated(1));
        assertArrayEquals(new int[] {3}, r.generated(2));
        assertEquals(3, passes.get(), "prefill + 2 steps; the last token needs no pass");
    }

    @ParameterizedTest
    @MethodSource("kvModes")
    void permanentHooksApplyDuringGeneration(boolean kv) {
        HookedTransformer model = TinyModels.gpt2Perturbed();
        SamplingConfig cfg = SamplingConfig.builder()
                .temperature(1)
                .seed(1)
                .maxNewTokens(N)
                .useKvCache(kv)
                .build();
        Hook force = TinyModels.force(13);
        model.addHook(force);
        try {
            GenerationResult r = Generator.generate(model, leftPadded(), cfg);
            for (int b = 0; b < r.batch(); b++) assertArrayEquals(filled(N, 13), r.generated(b), "row " + b);
        } finally {
            model.removeHook(force);
        }
        GenerationResult free = Generator.generate(model, leftPadded(), cfg);
        assertFalse(Arrays.equals(filled(N, 13), free.generated(0)), "the hook was removed");
    }

    @Test
    void perGenerationHooksApplyOnEveryStepAndDoNotStay() {
        HookedTransformer model = TinyModels.llama();
        GenerationResult r = Generator.generate(
                model, leftPadded(), SamplingConfig.greedy(N), List.of(TinyModels.force(40)), TokenListener.none());
        for (int b = 0; b < r.batch(); b++) assertArrayEquals(filled(N, 40), r.generated(b));
        assertTrue(model.hooks().isEmpty());
        try (var scope = model.withHooks(TinyModels.force(2))) {
            GenerationResult inScope = Generator.generate(model, leftPadded(), SamplingConfig.greedy(3));
            assertArrayEquals(filled(3, 2), inScope.generated(1));
        }
    }

    @Test
    void listenerReceivesEveryTokenInOrder() {
        HookedTransformer model = TinyModels.neox();
        List<String> calls = new ArrayList<>();
        GenerationResult r = Generator.generate(
                model,
                leftPadded(),
                SamplingConfig.builder().seed(5).maxNewTokens(N).build(),
                (b, t, s) -> calls.add(s + ":" + b + ":" + t));
        List<String> expected = new ArrayList<>();
        for (int s = 0; s < N; s++)
            for (int b = 0; b < r.batch(); b++) expected.add(s + ":" + b + ":" + r.generated(b)[s]);
        assertEquals(expected, calls);
    }

    @Test
    void zeroNewTokensReturnsThePrompt() {
        AtomicInteger calls = new AtomicInteger();
        GenerationResult r = Generator.generate(
                TinyModels.gpt2(), leftPadded(), SamplingConfig.greedy(0), (b, t, s) -> calls.incrementAndGet());
        assertEquals(0, calls.get());
        assertArrayEquals(TinyModels.randomTokens(2, 22), r.sequence(1));
        assertEquals(0, r.generated(1).length);
    }

    @Test
    void badArgumentsAreLoupeExceptionsNamingTheArgument() {
        assertMessage(
                "temperature", () -> SamplingConfig.builder().temperature(-0.5).build());
        assertMessage(
                "temperature",
                () -> SamplingConfig.builder().temperature(Double.NaN).build());
        assertMessage("topP", () -> SamplingConfig.builder().topP(0).build());
        assertMessage("topP", () -> SamplingConfig.builder().topP(1.01).build());
        assertMessage("topK", () -> SamplingConfig.builder().topK(-1).build());
        assertMessage(
                "maxNewTokens", () -> SamplingConfig.builder().maxNewTokens(-1).build());
        assertMessage(
                "stopTokens", () -> SamplingConfig.builder().stopTokens(-3).build());

        HookedTransformer model = TinyModels.gpt2();
        Tokens prompt = Tokens.of(TinyModels.randomTokens(30, 1));
        assertMessage("n_ctx", () -> Generator.generate(model, prompt, SamplingConfig.greedy(TinyModels.N_CTX - 29)));
        Generator.generate(
                model,
                prompt,
                SamplingConfig.greedy(TinyModels.N_CTX - 30).toBuilder()
                        .stopTokens(0)
                        .build());
        assertMessage(
                "stop token",
                () -> Generator.generate(
                        model,
                        prompt,
                        SamplingConfig.builder().stopTokens(TinyModels.VOCAB).build()));
        assertMessage("prompt", () -> Generator.generate(model, null, SamplingConfig.greedy(1)));
    }

    static void assertMessage(String fragment, Runnable r) {
        LoupeException e = assertThrows(LoupeException.class, r::run);
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should name " + fragment);
    }

    static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }
}
