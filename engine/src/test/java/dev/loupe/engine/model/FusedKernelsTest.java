package dev.loupe.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.autograd.NativeKernels;
import dev.loupe.engine.hooks.ActivationFilter;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A training pass with the fused kernels ({@code fused(true)}) computes what the ND4J compositions
 * do, for every test architecture (each uses the kernels where it can: plain causal attention, GELU,
 * LayerNorm), and a hook point that a fused kernel would skip is still there when asked for.
 */
class FusedKernelsTest {
    static final Tokens TOKENS = Tokens.of(new int[][] {{1, 5, 9, 3, 7, 2, 8, 0, 4}, {4, 2, 10, 6, 1, 1, 3, 9, 5}});

    static ForwardResult pass(HookedTransformer m, boolean fused, ActivationFilter cache) {
        return m.forward(ForwardRequest.of(TOKENS)
                .gradientsOf(o -> Losses.nextToken(o.logits(), TOKENS))
                .cache(cache)
                .fused(fused)
                .build());
    }

    @Test
    void fusedPassesMatchTheCompositionsOnEveryArchitecture() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        for (var e : TestModels.all("float32").entrySet()) {
            HookedTransformer m = TestModels.model(e.getValue(), 5);
            ForwardResult plain = pass(m, false, ActivationFilter.none()),
                    fused = pass(m, true, ActivationFilter.none());
            assertEquals(
                    plain.objective(), fused.objective(), 2e-6 * Math.abs(plain.objective()), e.getKey() + " loss");
            for (Map.Entry<String, INDArray> g : plain.weightGrads().entrySet()) {
                INDArray want = g.getValue(), got = fused.weightGrads().get(g.getKey());
                double err = got.sub(want).amaxNumber().doubleValue(),
                        scale = want.amaxNumber().doubleValue();
                assertTrue(
                        err <= 1e-5 * scale + 1e-7,
                        e.getKey() + " " + g.getKey() + ": max |diff| " + err + " of " + scale);
            }
        }
    }

    @Test
    void aCachedHookPointKeepsItsLayerUnfused() {
        Assumptions.assumeTrue(NativeKernels.available(), NativeKernels.unavailableBecause());
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("gpt2-like"), 5);
        ActivationFilter asked = ActivationFilter.matching(
                n -> n.equals("blocks.1.attn.hook_pattern") || n.equals("blocks.0.ln1.hook_scale"));
        ForwardResult r = pass(m, true, asked);
        assertTrue(r.cache().contains("blocks.1.attn.hook_pattern"), "blocks.1.attn.hook_pattern");
        assertTrue(r.cache().contains("blocks.0.ln1.hook_scale"), "blocks.0.ln1.hook_scale");
        assertTrue(!r.cache().contains("blocks.0.attn.hook_pattern"));
        assertEquals(pass(m, false, asked).objective(), r.objective(), 2e-6 * Math.abs(r.objective()));
    }
}
