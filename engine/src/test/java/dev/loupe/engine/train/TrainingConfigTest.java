package dev.loupe.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import org.junit.jupiter.api.Test;

class TrainingConfigTest {

    @Test
    void invalidHyperParametersNameTheParameter() {
        String m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().lr(-1e-3).build())
                .getMessage();
        assertTrue(m.contains("lr = -0.001") && m.contains("positive"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().lr(Double.NaN).build())
                .getMessage();
        assertTrue(m.contains("lr"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().batchSize(0).build())
                .getMessage();
        assertTrue(m.contains("batch_size = 0"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().betas(0.9, 1.0).build())
                .getMessage();
        assertTrue(m.contains("beta2 = 1.0"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().steps(10).warmupSteps(11).build())
                .getMessage();
        assertTrue(m.contains("warmup_steps = 11"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().weightDecay(-0.1).build())
                .getMessage();
        assertTrue(m.contains("weight_decay"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().gradClip(-1).build())
                .getMessage();
        assertTrue(m.contains("grad_clip"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> TrainingConfig.builder().initRange(-0.02).build())
                .getMessage();
        assertTrue(m.contains("init_range"), m);
    }

    @Test
    void warmupThenCosineToTheFloor() {
        TrainingConfig c = TrainingConfig.builder()
                .steps(110)
                .lr(1.0)
                .warmupSteps(10)
                .minLrFraction(0.1)
                .build();
        assertEquals(0.1, c.learningRate(0), 1e-12); // linear warm-up: (step + 1) / warmup
        assertEquals(1.0, c.learningRate(9), 1e-12);
        assertEquals(1.0, c.learningRate(10), 1e-12); // cosine starts at the peak
        assertEquals(0.55, c.learningRate(59), 0.01); // half-way down: (1 + 0.1) / 2
        for (int s = 11; s < 110; s++) assertTrue(c.learningRate(s) < c.learningRate(s - 1), "decreasing at " + s);
        assertEquals(0.1, c.learningRate(109), 1e-12); // and ends at min_lr_fraction * lr
        TrainingConfig constant =
                c.toBuilder().schedule(TrainingConfig.Schedule.CONSTANT).build();
        assertEquals(1.0, constant.learningRate(109), 1e-12);
        assertEquals(0.5, constant.learningRate(4), 1e-12);
    }
}
