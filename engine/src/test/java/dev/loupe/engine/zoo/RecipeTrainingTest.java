package dev.loupe.engine.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingRun;
import org.junit.jupiter.api.Test;

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

    static void lossFalls(ZooRecipe r, int steps, double factor, int checkedUpTo) {
        TrainingRun run = new Trainer(r.trainingTask(), r.training())
                .showProgress(false)
                .stopAfter(steps)
                .train(r.modelConfig());
        double start = meanLoss(run, 0, 10), end = meanLoss(run, steps - 10, steps);
        assertTrue(
                end < factor * start,
                r.model() + ": mean loss of the first 10 steps " + start + ", of steps " + (steps - 9) + "-" + steps
                        + " " + end);
        // The recipe reproduces the run that made the embedded weights: the same initial weights and
        // batches, so the same losses up to float rounding, which training amplifies. Measured after a
        // change of rounding in the backward: attn-only-2l stayed within 2e-7 of its history up to
        // step 433, modadd-1l within 1e-5 up to step 23, then 0.08% at step 33 and 2% at step 73 as
        // it memorises. Each is compared where its replay is stable.
        tech.tablesaw.api.Table shipped = Zoo.history(r.model());
        // Step 1 is the seeded initial weights on the first batch: only float rounding may differ.
        double want1 = shipped.doubleColumn("loss").get(0);
        assertEquals(
                want1,
                run.rows().get(0).get("loss"),
                1e-5 * want1,
                r.model() + " loss at step 1 vs its shipped history");
        for (int step : new int[] {checkedUpTo / 2, checkedUpTo}) {
            double want = shipped.doubleColumn("loss").get(step - 1),
                    got = run.rows().get(step - 1).get("loss");
            assertEquals(
                    want,
                    got,
                    1e-3 * Math.abs(want) + 1e-6,
                    r.model() + " loss at step " + step + " vs its shipped history");
        }
    }

    /** Memorisation starts at once: the loss falls from ~4.7 to ~0.7 by step 100. */
    @Test
    void modularAdditionRecipeLossFalls() {
        lossFalls(ZooRecipe.modadd1l(), 150, 0.5, 20);
    }

    /** Induction heads form around step 600-700; the loss on the repeated segments then drops. */
    @Test
    void inductionRecipeLossFalls() {
        lossFalls(ZooRecipe.attnOnly2l(), 700, 0.9, 400);
    }
}
