package dev.loupe.engine.zoo;

import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingRun;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each zoo recipe trains: its first few hundred steps (exactly those of the run that produced the
 * embedded weights: same config, same seed) bring the loss clearly below where it starts. The full
 * runs take tens of minutes and are not repeated here.
 */
class RecipeTrainingTest {

    static double meanLoss(TrainingRun run, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += run.rows().get(i).get("loss");
        return s / (to - from);
    }

    static void lossFalls(ZooRecipe r, int steps, double factor) {
        TrainingRun run = new Trainer(r.trainingTask(), r.training()).showProgress(false).stopAfter(steps).train(r.modelConfig());
        double start = meanLoss(run, 0, 10), end = meanLoss(run, steps - 10, steps);
        assertTrue(end < factor * start, r.model() + ": mean loss of the first 10 steps " + start
                + ", of steps " + (steps - 9) + "-" + steps + " " + end);
    }

    /** Memorisation starts early: the loss is about halved by step 400. */
    @Test
    void modularAdditionRecipeLossFalls() {
        lossFalls(ZooRecipe.modadd1l(), 400, 0.75);
    }

    /** Induction heads form around step 600-700; the loss on the repeated segments then drops. */
    @Test
    void inductionRecipeLossFalls() {
        lossFalls(ZooRecipe.attnOnly2l(), 700, 0.9);
    }
}
