package dev.loupe.saes.splice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Fixtures;
import dev.loupe.saes.Sae;
import dev.loupe.saes.TestSaes;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class HookedSaeTransformerTest {
    static final String HOOK = "blocks.0.hook_resid_post";
    static final HookedTransformer MODEL = Fixtures.smallModel();
    static final Tokens TOKENS = Tokens.of(new int[] {1, 5, 9, 33, 2, 70}, new int[] {1, 44, 12, 7, 8, 9});

    static double diff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE)
                .sub(b.castTo(DataType.DOUBLE))
                .amaxNumber()
                .doubleValue();
    }

    @Test
    void anExactSaeOrTheErrorTermLeaveTheLogitsAsTheyWere() {
        INDArray clean = MODEL.run(TOKENS);
        assertTrue(diff(
                        clean,
                        new HookedSaeTransformer(MODEL)
                                .addSae(TestSaes.exact(32, HOOK))
                                .run(TOKENS))
                < 1e-5);
        Sae random = TestSaes.random(Architecture.TOPK, 32, 64, 5, HOOK, 1);
        INDArray spliced = new HookedSaeTransformer(MODEL).addSae(random).run(TOKENS);
        assertTrue(diff(clean, spliced) > 1e-2, "a random SAE changes the logits");
        assertTrue(
                diff(clean, new HookedSaeTransformer(MODEL).addSae(random, true).run(TOKENS)) < 1e-5);
        // splicing as a plain model hook gives the same as the wrapper
        try (var scope = MODEL.withHooks(HookedSaeTransformer.splice(random, false))) {
            assertEquals(0, diff(spliced, MODEL.run(TOKENS)));
        }
    }

    @Test
    void theCacheHoldsTheFeaturesUnderSaeLensNames() {
        Sae sae = TestSaes.random(Architecture.JUMPRELU, 32, 48, 0, HOOK, 2);
        ForwardResult r =
                new HookedSaeTransformer(MODEL).addSae(sae, true).runWithCache(TOKENS, ActivationFilter.names(HOOK));
        INDArray features = r.cache().get(HOOK + ".hook_sae_acts_post");
        assertEquals("[2, 6, 48]", java.util.Arrays.toString(features.shape()));
        INDArray act = r.cache().get(HOOK); // the model's activation is what the SAE replaced it with
        INDArray input = r.cache().get(HOOK + ".hook_sae_input");
        assertTrue(diff(features, sae.encode(input)) < 1e-6);
        assertTrue(diff(act, input) < 1e-5, "with the error term the output equals the input");
        for (String p : SaeHookNames.ALL) assertTrue(r.cache().contains(HOOK + "." + p), p);
        INDArray error = r.cache().get(HOOK + ".hook_sae_error"),
                recons = r.cache().get(HOOK + ".hook_sae_recons");
        assertTrue(diff(input, error.add(recons)) < 1e-5);
    }

    @Test
    void ablatingAFeatureWithTheErrorTermRemovesExactlyItsContribution() {
        Sae sae = TestSaes.random(Architecture.STANDARD, 32, 40, 0, HOOK, 3);
        int f = 7;
        HookedSaeTransformer spliced = new HookedSaeTransformer(MODEL).addSae(sae, true);
        spliced.addSaeHook(HOOK + ".hook_sae_acts_post", FeatureEdits.ablate(f));
        INDArray ablated = spliced.run(TOKENS);
        // the same by hand: subtract the feature's activation times its decoder row
        INDArray expected = MODEL.runWithHooks(TOKENS, Hook.forward(HOOK, (a, p) -> {
            INDArray rows = a.reshape('c', a.length() / 32, 32);
            INDArray acts = sae.encode(rows);
            INDArray contribution = acts.get(NDArrayIndex.all(), NDArrayIndex.point(f))
                    .reshape(rows.size(0), 1)
                    .mmul(sae.W_dec().getRow(f).reshape(1, 32));
            return rows.sub(contribution).reshape(a.shape());
        }));
        assertTrue(diff(expected, ablated) < 1e-5, "differs by " + diff(expected, ablated));
        assertTrue(diff(ablated, MODEL.run(TOKENS)) > 1e-4, "feature " + f + " should matter");
    }

    @Test
    void steeringAddsTheDecoderDirection() {
        Sae sae = TestSaes.random(Architecture.TOPK, 32, 64, 4, HOOK, 4);
        ForwardResult plain = MODEL.runWithCache(TOKENS, ActivationFilter.names(HOOK));
        INDArray before = plain.cache().get(HOOK).dup();
        try (var scope = MODEL.withHooks(FeatureEdits.steer(sae, 11, 3.0))) {
            INDArray after = MODEL.runWithCache(TOKENS, ActivationFilter.names(HOOK))
                    .cache()
                    .get(HOOK);
            INDArray delta = after.sub(before).reshape(12, 32);
            for (int r = 0; r < 12; r++)
                assertTrue(diff(delta.getRow(r), sae.W_dec().getRow(11).mul(3)) < 1e-5);
        }
    }

    @Test
    void steeringAtOnePositionLeavesTheOthers() {
        Sae sae = TestSaes.random(Architecture.TOPK, 32, 64, 4, HOOK, 6);
        INDArray before = MODEL.runWithCache(TOKENS, ActivationFilter.names(HOOK))
                .cache()
                .get(HOOK)
                .dup();
        try (var scope = MODEL.withHooks(FeatureEdits.steer(sae, 3, -2.0, new int[] {-1}))) {
            INDArray after = MODEL.runWithCache(TOKENS, ActivationFilter.names(HOOK))
                    .cache()
                    .get(HOOK);
            for (int b = 0; b < 2; b++)
                for (int p = 0; p < 6; p++) {
                    INDArray delta = after.get(NDArrayIndex.point(b), NDArrayIndex.point(p), NDArrayIndex.all())
                            .sub(before.get(NDArrayIndex.point(b), NDArrayIndex.point(p), NDArrayIndex.all()));
                    INDArray expected = p == 5 ? sae.W_dec().getRow(3).mul(-2) : Nd4j.zeros(DataType.FLOAT, 32);
                    assertTrue(diff(delta, expected) < 1e-5, "position " + p);
                }
        }
    }

    @Test
    void aWrongWidthOrHookIsNamed() {
        Sae wide = TestSaes.random(Architecture.STANDARD, 64, 80, 0, HOOK, 5);
        LoupeException e = assertThrows(LoupeException.class, () -> new HookedSaeTransformer(MODEL).addSae(wide));
        assertTrue(e.getMessage().contains("d_in is 64") && e.getMessage().contains(HOOK), e.getMessage());
        Sae nowhere = TestSaes.random(Architecture.STANDARD, 32, 80, 0, "blocks.7.hook_resid_post", 5);
        LoupeException h = assertThrows(LoupeException.class, () -> new HookedSaeTransformer(MODEL).addSae(nowhere));
        assertTrue(h.getMessage().contains("blocks.7.hook_resid_post"), h.getMessage());
        HookedSaeTransformer s = new HookedSaeTransformer(MODEL).addSae(TestSaes.exact(32, HOOK));
        LoupeException p =
                assertThrows(LoupeException.class, () -> s.addSaeHook(HOOK + ".hook_sae_acts", FeatureEdits.ablate(1)));
        assertTrue(p.getMessage().contains("hook_sae_acts_post"), p.getMessage());
    }
}
