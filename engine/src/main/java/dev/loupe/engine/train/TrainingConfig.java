package dev.loupe.engine.train;

import dev.loupe.engine.LoupeException;

/**
 * How a model is trained: AdamW (PyTorch's {@code torch.optim.AdamW}), gradient clipping by global
 * norm, and a learning rate that warms up linearly, then stays constant or follows a cosine down to
 * {@code minLrFraction * lr}.
 *
 * @param steps           optimizer steps in the whole run
 * @param batchSize       sequences per step
 * @param lr              peak learning rate
 * @param weightDecay     decoupled weight decay, applied to matrices (embeddings included), not to biases or norm scales
 * @param beta1           AdamW's first-moment decay
 * @param beta2           AdamW's second-moment decay
 * @param eps             AdamW's epsilon
 * @param gradClip        the largest global gradient norm; 0 turns clipping off
 * @param warmupSteps     steps of linear warm-up from 0 to {@code lr}
 * @param schedule        what the learning rate does after warm-up
 * @param minLrFraction   the cosine's final learning rate as a fraction of {@code lr}
 * @param evalEvery       steps between evaluations (0: only at the end)
 * @param checkpointEvery steps between checkpoints when the run has an output folder (0: only at the end)
 * @param seed            seeds the initial weights and every batch
 * @param initRange       std of the initial weight matrices (TransformerLens's {@code initializer_range});
 *                        0 means TransformerLens's default, 0.8 / sqrt(d_model)
 */
public record TrainingConfig(
        int steps,
        int batchSize,
        double lr,
        double weightDecay,
        double beta1,
        double beta2,
        double eps,
        double gradClip,
        int warmupSteps,
        Schedule schedule,
        double minLrFraction,
        int evalEvery,
        int checkpointEvery,
        long seed,
        double initRange) {

    public enum Schedule {
        CONSTANT,
        COSINE
    }

    public TrainingConfig {
        check(steps > 0, "steps", steps, "a positive number of steps");
        check(batchSize > 0, "batch_size", batchSize, "a positive number of sequences");
        check(lr > 0 && Double.isFinite(lr), "lr", lr, "a positive, finite learning rate");
        check(weightDecay >= 0 && Double.isFinite(weightDecay), "weight_decay", weightDecay, "a finite value >= 0");
        check(beta1 >= 0 && beta1 < 1, "beta1", beta1, "a value in [0, 1)");
        check(beta2 >= 0 && beta2 < 1, "beta2", beta2, "a value in [0, 1)");
        check(eps > 0 && Double.isFinite(eps), "eps", eps, "a positive, finite value");
        check(
                gradClip >= 0 && Double.isFinite(gradClip),
                "grad_clip",
                gradClip,
                "a finite value >= 0 (0: no clipping)");
        check(
                warmupSteps >= 0 && warmupSteps <= steps,
                "warmup_steps",
                warmupSteps,
                "between 0 and steps (" + steps + ")");
        if (schedule == null) throw new LoupeException("training config: schedule must be constant or cosine");
        check(minLrFraction >= 0 && minLrFraction <= 1, "min_lr_fraction", minLrFraction, "a value in [0, 1]");
        check(evalEvery >= 0, "eval_every", evalEvery, "a value >= 0 (0: only at the end)");
        check(checkpointEvery >= 0, "checkpoint_every", checkpointEvery, "a value >= 0 (0: only at the end)");
        check(
                initRange >= 0 && Double.isFinite(initRange),
                "init_range",
                initRange,
                "a finite value >= 0 (0: 0.8 / sqrt(d_model))");
    }

    private static void check(boolean ok, String name, Object value, String expected) {
        if (!ok)
            throw new LoupeException("training config: " + name + " = " + value + " is invalid, expected " + expected);
    }

    /** The learning rate of step {@code step} (0-based). */
    public double learningRate(int step) {
        if (step < warmupSteps) return lr * (step + 1) / warmupSteps;
        if (schedule == Schedule.CONSTANT) return lr;
        int decaySteps = steps - warmupSteps;
        double progress = decaySteps <= 1 ? 1 : (double) (step - warmupSteps) / (decaySteps - 1);
        double min = lr * minLrFraction;
        return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * Math.min(1, progress)));
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder()
                .steps(steps)
                .batchSize(batchSize)
                .lr(lr)
                .weightDecay(weightDecay)
                .betas(beta1, beta2)
                .eps(eps)
                .gradClip(gradClip)
                .warmupSteps(warmupSteps)
                .schedule(schedule)
                .minLrFraction(minLrFraction)
                .evalEvery(evalEvery)
                .checkpointEvery(checkpointEvery)
                .seed(seed)
                .initRange(initRange);
    }

    /** Defaults as nanoGPT's and PyTorch's: AdamW(0.9, 0.999, 1e-8), clip 1.0, cosine to 10%. */
    public static final class Builder {
        private int steps = 1000, batchSize = 32, warmupSteps = 0, evalEvery = 0, checkpointEvery = 0;
        private double lr = 1e-3,
                weightDecay = 0.01,
                beta1 = 0.9,
                beta2 = 0.999,
                eps = 1e-8,
                gradClip = 1.0,
                minLrFraction = 0.1;
        private Schedule schedule = Schedule.COSINE;
        private long seed = 0;
        private double initRange = 0;

        public Builder steps(int v) {
            steps = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder lr(double v) {
            lr = v;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder betas(double b1, double b2) {
            beta1 = b1;
            beta2 = b2;
            return this;
        }

        public Builder eps(double v) {
            eps = v;
            return this;
        }

        public Builder gradClip(double v) {
            gradClip = v;
            return this;
        }

        public Builder warmupSteps(int v) {
            warmupSteps = v;
            return this;
        }

        public Builder schedule(Schedule v) {
            schedule = v;
            return this;
        }

        public Builder minLrFraction(double v) {
            minLrFraction = v;
            return this;
        }

        public Builder evalEvery(int v) {
            evalEvery = v;
            return this;
        }

        public Builder checkpointEvery(int v) {
            checkpointEvery = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder initRange(double v) {
            initRange = v;
            return this;
        }

        public TrainingConfig build() {
            return new TrainingConfig(
                    steps,
                    batchSize,
                    lr,
                    weightDecay,
                    beta1,
                    beta2,
                    eps,
                    gradClip,
                    warmupSteps,
                    schedule,
                    minLrFraction,
                    evalEvery,
                    checkpointEvery,
                    seed,
                    initRange);
        }
    }
}
