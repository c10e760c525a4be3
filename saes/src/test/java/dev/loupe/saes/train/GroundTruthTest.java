package dev.loupe.saes.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.saes.Architecture;
import dev.loupe.saes.Sae;
import org.junit.jupiter.api.Test;

/** A TopK SAE finds the directions synthetic data was made of (256 unit directions in d = 64, ~4 active a row, 1% noise). */
class GroundTruthTest {
    @Test
    void topKRecoversTheTrueDirections() {
        Synthetic data = new Synthetic(60_000, 64, 256, 4, 0.01, 1);
        long t0 = System.nanoTime();
        SaeTrainingRun run = new SaeTrainer(SaeTrainingConfig.of(Integer.getInteger("gt.steps", 1500), 1024, 3e-3, 0))
                .add(SaeSpec.of("x", Architecture.TOPK, 512, 4))
                .showProgress(false)
                .train(data.rows, "synthetic");
        Sae sae = run.sae();
        double score = data.recovery(sae.W_dec());
        System.out.printf("recovery %.4f after %.1f s; last %s%n", score, (System.nanoTime() - t0) / 1e9, run.last());
        assertTrue(score >= 0.95, "mean best |cos| " + score);
    }
}
