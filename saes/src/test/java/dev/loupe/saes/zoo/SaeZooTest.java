package dev.loupe.saes.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Sae;
import dev.loupe.saes.eval.EvalConfig;
import dev.loupe.saes.eval.SaeEvalReport;
import dev.loupe.saes.eval.SaeEvals;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SaeZooTest {
    static final String NAME = "attn-only-2l-resid0-topk";

    /** The shipped SAE, spliced into its model on sequences it was not trained on, keeps most of the loss. */
    @Test
    void theZooSaeRecoversMostOfItsModelsLossOnFreshSequences() {
        Sae sae = SaeZoo.load(NAME);
        assertEquals(Architecture.TOPK, sae.config().architecture());
        assertEquals("blocks.0.hook_resid_post", sae.config().hookName());
        HookedTransformer model = Zoo.load("attn-only-2l");
        assertEquals(model.config().dModel(), sae.config().dIn());

        int[][] ids = TaskCorpus.sequences("induction", 32, 12345); // seeds 1 (training) and 2 (card) not reused
        List<Tokens> batches =
                List.of(Tokens.of(Arrays.copyOfRange(ids, 0, 16)), Tokens.of(Arrays.copyOfRange(ids, 16, 32)));
        SaeEvalReport r =
                SaeEvals.withModel(model, sae, batches, EvalConfig.ignoring(InductionTask.BOS), ProgressBar.silent());
        System.out.println(r.table().printAll());
        assertTrue(r.get("ce_loss_score") >= 0.9, "CE loss recovered " + r.get("ce_loss_score"));
        assertTrue(r.get("explained_variance") >= 0.8, "explained variance " + r.get("explained_variance"));
        assertTrue(r.get("l0") > 0 && r.get("l0") <= sae.config().k(), "L0 " + r.get("l0"));
        assertTrue(r.get("ce_loss_with_sae") < r.get("ce_loss_with_ablation"), "the SAE must beat zero-ablation");
    }

    @Test
    void theCardGivesTheRecipeAndTheEvaluations() {
        String card = SaeZoo.card(NAME);
        assertTrue(card.contains("./loupe sae train") && card.contains("CE loss recovered"), card);
        assertTrue(SaeZoo.history(NAME).startsWith("step,"), "history.csv header");
        assertThrows(LoupeException.class, () -> SaeZoo.load("no-such-sae"));
    }
}
