package dev.loupe.saes.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Fixtures;
import dev.loupe.saes.Sae;
import dev.loupe.saes.Saes;
import dev.loupe.saes.TestSaes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SaeEvalsTest {
    static final String HOOK = "blocks.0.hook_resid_post";

    static List<Tokens> batches() {
        Random r = new Random(1);
        int[][] ids = new int[6][12];
        for (int[] row : ids) {
            row[0] = 1;
            for (int i = 1; i < row.length; i++) row[i] = 2 + r.nextInt(95);
        }
        return List.of(
                Tokens.of(java.util.Arrays.copyOfRange(ids, 0, 3)), Tokens.of(java.util.Arrays.copyOfRange(ids, 3, 6)));
    }

    @Test
    void anExactSaeRecoversAllOfTheLossAndAZeroSaeNone() {
        HookedTransformer model = Fixtures.smallModel();
        SaeEvalReport exact = SaeEvals.withModel(
                model, TestSaes.exact(32, HOOK), batches(), EvalConfig.ignoring(1), ProgressBar.silent());
        System.out.println(exact.table());
        assertEquals(1.0, exact.get("ce_loss_score"), 1e-6);
        assertEquals(0.0, exact.get("kl_div_with_sae"), 1e-9);
        assertEquals(1.0, exact.get("explained_variance"), 1e-6);
        assertEquals(1.0, exact.get("cossim"), 1e-6);
        assertEquals(1.0, exact.get("l2_ratio"), 1e-6);
        assertEquals(66, exact.tokens(), "6 sequences of 12 tokens, the BOS positions left out");

        Map<String, INDArray> t = new LinkedHashMap<>(TestSaes.exact(32, HOOK).stateDict());
        t.put("W_dec", Nd4j.zeros(DataType.FLOAT, 64, 32));
        Sae zero = Saes.create(TestSaes.exact(32, HOOK).config(), t, "zero");
        SaeEvalReport none = SaeEvals.withModel(
                model, zero, batches(), new EvalConfig(java.util.Set.of(), 0.1), ProgressBar.silent());
        assertEquals(0.0, none.get("ce_loss_score"), 1e-6);
        assertEquals(none.get("kl_div_with_ablation"), none.get("kl_div_with_sae"), 1e-9);
        assertEquals(72, none.tokens());
    }

    @Test
    void sparsityMetricsOfATopKSae() {
        Sae topk = TestSaes.random(Architecture.TOPK, 32, 64, 5, HOOK, 8);
        INDArray x = Nd4j.randn(DataType.FLOAT, 200, 32);
        SaeEvalReport r = SaeEvals.ofActivations(topk, List.of(x), EvalConfig.ignoring(null));
        assertTrue(r.get("l0") <= 5 && r.get("l0") > 2, "l0 " + r.get("l0"));
        assertEquals(1 - r.get("explained_variance"), r.get("fvu"), 1e-12);
        double fired = 0;
        for (double d : r.density()) fired += d;
        assertEquals(r.get("l0"), fired, 1e-9, "densities sum to L0");
    }
}
