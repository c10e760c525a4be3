package dev.loupe.engine.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.analysis.HeadScores;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.train.tasks.ModularAdditionTask;
import java.util.List;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.Table;

/** The embedded models do what their cards say. */
class ZooTest {

    static double max(Table t, String column, int layerFrom, int layerTo) {
        double best = 0;
        for (int r = 0; r < t.rowCount(); r++) {
            int l = t.intColumn("layer").get(r);
            if (l >= layerFrom && l < layerTo)
                best = Math.max(best, t.doubleColumn(column).get(r));
        }
        return best;
    }

    @Test
    void attnOnly2lHasInductionAndPreviousTokenHeads() {
        HookedTransformer model = Zoo.load("attn-only-2l");
        assertEquals(ZooRecipe.attnOnly2l().modelConfig(), model.config());
        // Fresh sequences, not the ones the training evaluated on.
        Table scores = HeadScores.compute(model, InductionTask.BOS, 31, 32, 2024);
        double induction = max(scores, "induction", 1, 2), previous = max(scores, "previous_token", 0, 1);
        assertTrue(induction >= 0.8, "best layer-1 induction score " + induction + "\n" + scores.printAll());
        assertTrue(previous >= 0.8, "best layer-0 previous-token score " + previous + "\n" + scores.printAll());
    }

    @Test
    void modadd1lGeneralisesToHeldOutPairs() {
        HookedTransformer model = Zoo.load("modadd-1l");
        ModularAdditionTask task = (ModularAdditionTask) ZooRecipe.modadd1l().trainingTask();
        assertEquals(ZooRecipe.modadd1l().modelConfig(), model.config());
        double[] test = task.lossAndAccuracy(model, task.testPairs());
        assertTrue(test[1] >= 0.99, "held-out accuracy " + test[1] + " on " + task.testPairs().length + " pairs");
    }

    @Test
    void cardsAndHistoriesShipWithTheWeights() {
        for (String name : Zoo.NAMES) {
            String card = Zoo.card(name);
            boolean text = Zoo.hasTokenizer(name);
            String task = text ? "text" : Zoo.recipe(name).task();
            int steps = text
                    ? ZooRecipe.textTraining().steps()
                    : Zoo.recipe(name).training().steps();
            assertTrue(card.contains("./loupe train --task " + task), card);
            assertTrue(card.contains("## Final metrics"), card);
            Table history = Zoo.history(name);
            assertEquals(
                    List.of("step", "lr", "loss", "grad_norm"),
                    history.columnNames().subList(0, 4),
                    name);
            assertEquals(steps, history.rowCount(), name);
        }
        assertEquals(2, ModelLoader.load("attn-only-2l").config().nLayers());
        String m = assertThrows(LoupeException.class, () -> Zoo.load("attn-only-3l"))
                .getMessage();
        assertTrue(m.contains("no embedded model named 'attn-only-3l'") && m.contains("modadd-1l"), m);
    }
}
