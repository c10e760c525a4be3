package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class PathPatchingTest {
    static HookedTransformer model(String name, int layers) {
        ModelConfig cfg =
                TestModels.all("float64").get(name).toBuilder().nLayers(layers).build();
        return TestModels.model(cfg, 9);
    }

    /** The last block's heads reach the logits only directly: path patching to the residual is activation patching. */
    @Test
    void lastLayerHeadsToTheResidualAreTheirActivationPatch() {
        HookedTransformer m = model("attn-only", 2);
        PathPatching pp = PathPatching.of(m, PatchingTest.CLEAN, PatchingTest.CORRUPT, PatchingTest.DIFF);
        PatchResult direct = pp.sweepToResid();
        PatchResult act = Patching.of(m, PatchingTest.CLEAN, PatchingTest.CORRUPT, PatchingTest.DIFF)
                .headOutAllPos();
        for (int h = 0; h < 2; h++) assertEquals(act.get(1, h), direct.get(1, h), 1e-10, "L1H" + h);
        // a layer-0 head reaches the logits through layer 1 too: its direct path alone differs
        assertTrue(Math.abs(act.get(0, 0) - direct.get(0, 0)) > 1e-6);
    }

    /** The two steps written out with hooks, one sender at a time, agree with the batched implementation. */
    @Test
    void matchesTheTwoStepsWrittenWithHooks() {
        HookedTransformer m = model("gpt2-like", 3);
        List<Head> receivers = List.of(Head.of(2, 0), Head.of(2, 1));
        PathPatching pp = PathPatching.of(m, PatchingTest.CLEAN, PatchingTest.CORRUPT, PatchingTest.DIFF);
        PatchResult sweep = pp.sweepToHeads(receivers, "k", "v");
        PatchResult single = PathPatching.of(m, PatchingTest.CLEAN, PatchingTest.CORRUPT, PatchingTest.DIFF)
                .runsPerPass(1)
                .sweepToHeads(receivers, "k", "v");
        assertEquals(single.values(), sweep.values());
        for (int l = 0; l < 2; l++)
            for (int h = 0; h < 2; h++)
                assertEquals(
                        byHand(m, Head.of(l, h), receivers, List.of("k", "v")),
                        sweep.get(l, h),
                        1e-10,
                        "L" + l + "H" + h);
        assertEquals(0, sweep.get(2, 0)); // no path from a receiver's own layer
    }

    private static double byHand(HookedTransformer m, Head sender, List<Head> receivers, List<String> inputs) {
        ActivationCache clean =
                m.runWithCache(PatchingTest.CLEAN, ActivationFilter.all()).cache();
        ActivationCache corrupt =
                m.runWithCache(PatchingTest.CORRUPT, ActivationFilter.all()).cache();
        List<Hook> freeze = new ArrayList<>();
        for (int l = 0; l < 2; l++) {
            String z = "blocks." + l + ".attn.hook_z", mlp = "blocks." + l + ".hook_mlp_out";
            int layer = l;
            freeze.add(Hook.forward(z, (a, hp) -> {
                INDArray out = corrupt.get(z).dup();
                if (layer == sender.layer())
                    out.get(all(), all(), point(sender.head()))
                            .assign(clean.get(z).get(all(), all(), point(sender.head())));
                return out;
            }));
            freeze.add(Hook.forward(mlp, (a, hp) -> corrupt.get(mlp).dup()));
        }
        List<String> names = new ArrayList<>();
        for (String in : inputs) names.add("blocks.2.attn.hook_" + in);
        ActivationCache step1 = m.forward(dev.loupe.engine.model.ForwardRequest.of(PatchingTest.CORRUPT)
                        .hooks(freeze)
                        .cache(ActivationFilter.names(names.toArray(String[]::new)))
                        .build())
                .cache();
        List<Hook> patch = new ArrayList<>();
        for (String name : names)
            patch.add(Hook.forward(name, (a, hp) -> {
                INDArray out = a.dup();
                for (Head r : receivers)
                    out.get(all(), all(), point(r.head()))
                            .assign(step1.get(name).get(all(), all(), point(r.head())));
                return out;
            }));
        INDArray logits = m.runWithHooks(PatchingTest.CORRUPT, patch.toArray(Hook[]::new));
        return PatchingTest.DIFF.value(logits);
    }

    @Test
    void badSendersAndReceiversAreNamed() {
        HookedTransformer m = model("gpt2-like", 2);
        PathPatching pp = PathPatching.of(m, PatchingTest.CLEAN, PatchingTest.CORRUPT, PatchingTest.DIFF);
        assertMessage(
                () -> pp.toHeads(List.of(Head.of(1, 0)), List.of(Head.of(1, 1)), "k"),
                "sender L1H0 is not below every receiver");
        assertMessage(
                () -> pp.toHeads(List.of(Head.of(0, 0)), List.of(Head.of(1, 1)), "z"),
                "receiver input 'z' must be q, k or v");
        assertMessage(
                () -> pp.toHeads(List.of(Head.of(0, 5)), List.of(Head.of(1, 1)), "q"),
                "sender L0H5: head 5 is out of range 0..1");
        assertMessage(
                () -> pp.toHeads(List.of(Head.of(0, 0)), List.of(Head.of(2, 1)), "q"), "layer 2 is out of range 0..1");
        assertMessage(() -> Head.parse("L0-H3"), "not a head label like L0H3");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable run, String fragment) {
        LoupeException e = assertThrows(LoupeException.class, run);
        assertTrue(e.getMessage().contains(fragment), "message should contain \"" + fragment + "\": " + e.getMessage());
    }
}
