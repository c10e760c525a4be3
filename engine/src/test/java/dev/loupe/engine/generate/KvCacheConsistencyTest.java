package dev.loupe.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.KvCache;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The KV-cached path must give the logits a full recompute gives, within 1e-5 in float32: for
 * learned and rotary positions, unpadded and left-padded batches, prompts fed in chunks, and through
 * the generator at every step.
 */
class KvCacheConsistencyTest {
    static final double TOL = 1e-5;

    static List<HookedTransformer> models() {
        return TinyModels.all();
    }

    @ParameterizedTest
    @MethodSource("models")
    void chunkedCachedForwardEqualsFullRun(HookedTransformer model) {
        int[][] ids = {TinyModels.randomTokens(14, 1), TinyModels.randomTokens(14, 2)};
        INDArray full = model.run(Tokens.of(ids));
        KvCache kv = new KvCache(model.config().nLayers());
        int from = 0;
        for (int chunk : new int[] {5, 1, 1, 3, 2, 2}) {
            int[][] part = new int[2][];
            for (int b = 0; b < 2; b++) part[b] = Arrays.copyOfRange(ids[b], from, from + chunk);
            INDArray got = model.forward(
                            ForwardRequest.of(Tokens.of(part)).kvCache(kv).build())
                    .logits();
            assertClose(
                    full.get(NDArrayIndex.all(), NDArrayIndex.interval(from, from + chunk), NDArrayIndex.all()),
                    got,
                    "positions " + from + ".." + (from + chunk - 1));
            from += chunk;
            assertEquals(from, kv.length());
        }
    }

    @ParameterizedTest
    @MethodSource("models")
    void leftPaddedCachedStepsEqualPaddedRecomputeAndRowsAlone(HookedTransformer model) {
        List<int[]> prompts =
                List.of(TinyModels.randomTokens(9, 3), TinyModels.randomTokens(4, 4), TinyModels.randomTokens(12, 5));
        Tokens padded = Tokens.padded(prompts, 0, Tokens.Side.LEFT);
        KvCache kv = new KvCache(model.config().nLayers());
        INDArray logits =
                model.forward(ForwardRequest.of(padded).kvCache(kv).build()).logits();
        int[][] next = {TinyModels.randomTokens(4, 6), TinyModels.randomTokens(4, 7), TinyModels.randomTokens(4, 8)};
        List<int[]> seqs = new ArrayList<>(prompts);
        for (int step = 0; ; step++) {
            INDArray cachedLast = last(logits);
            // the padded batch, recomputed in full
            assertClose(
                    last(model.run(Tokens.padded(seqs, 0, Tokens.Side.LEFT))),
                    cachedLast,
                    "step " + step + " vs padded recompute");
            // each row alone, without padding
            for (int b = 0; b < seqs.size(); b++)
                assertClose(
                        last(model.run(Tokens.of(seqs.get(b)))),
                        cachedLast.getRow(b, true),
                        "step " + step + ", row " + b + " alone");
            if (step == next[0].length) break;
            int[][] col = new int[3][1];
            for (int b = 0; b < 3; b++) {
                col[b][0] = next[b][step];
                seqs.set(b, append(seqs.get(b), next[b][step]));
            }
            logits = model.forward(ForwardRequest.of(Tokens.of(col)).kvCache(kv).build())
                    .logits();
        }
    }

    /** Through the generator: the logits each cached step saw equal model.run on the sequence so far. */
    @ParameterizedTest
    @MethodSource("models")
    void generatorStepLogitsEqualFullRecompute(HookedTransformer model) {
        for (Tokens prompt : List.of(
                Tokens.of(TinyModels.randomTokens(6, 9), TinyModels.randomTokens(6, 10)),
                Tokens.padded(
                        List.of(TinyModels.randomTokens(3, 11), TinyModels.randomTokens(8, 12)),
                        0,
                        Tokens.Side.LEFT))) {
            List<INDArray> seen = new ArrayList<>();
            Hook record = Hook.forward("unembed.hook_out", (x, h) -> {
                seen.add(last(x).dup());
                return null;
            });
            SamplingConfig cfg = SamplingConfig.builder()
                    .temperature(1)
                    .seed(3)
                    .maxNewTokens(8)
                    .build();
            GenerationResult r = Generator.generate(model, prompt, cfg, List.of(record), TokenListener.none());
            assertEquals(8, seen.size());
            for (int step = 0; step < seen.size(); step++) {
                List<int[]> prefix = new ArrayList<>();
                for (int b = 0; b < r.batch(); b++) {
                    int[] s = r.sequence(b);
                    prefix.add(Arrays.copyOf(s, s.length - r.generated(b).length + step));
                }
                INDArray full = last(model.runWithCache(
                                Tokens.padded(prefix, 0, Tokens.Side.LEFT), ActivationFilter.names("unembed.hook_out"))
                        .cache()
                        .get("unembed.hook_out"));
                assertClose(full, seen.get(step), "generation step " + step);
            }
        }
    }

    /** [B, V] logits of the last position. */
    static INDArray last(INDArray logits) {
        return logits.get(NDArrayIndex.all(), NDArrayIndex.point(logits.size(1) - 1), NDArrayIndex.all());
    }

    static int[] append(int[] a, int t) {
        int[] out = Arrays.copyOf(a, a.length + 1);
        out[a.length] = t;
        return out;
    }

    static void assertClose(INDArray want, INDArray got, String what) {
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        double diff = want.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                .sub(got.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE))
                .amaxNumber()
                .doubleValue();
        assertTrue(diff <= TOL, what + ": max |diff| " + diff + " > " + TOL);
    }
}
