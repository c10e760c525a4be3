package dev.loupe.saes.train;

import dev.loupe.engine.LoupeException;
import java.util.function.Consumer;

/**
 * How a run trains its SAEs, with SAELens's names and defaults ({@code SAETrainerConfig} and
 * {@code LanguageModelSAERunnerConfig}): Adam, a learning rate that warms up linearly, stays constant
 * or follows a cosine, then decays linearly to 0, gradient clipping at norm 1 (SAELens always clips),
 * and the windows of dead-latent detection.
 *
 * @param steps                 optimizer steps
 * @param batchSize             activations (rows) per step
 * @param lr                    learning rate after warm-up
 * @param beta1                 Adam's first-moment decay ({@code adam_beta1})
 * @param beta2                 Adam's second-moment decay ({@code adam_beta2})
 * @param scheduler             the learning rate between warm-up and decay
 * @param lrWarmUpSteps         linear warm-up from {@code lr / lrWarmUpSteps} to {@code lr}
 * @param lrDecaySteps          linear decay from {@code lrEnd} (constant scheduler: {@code lr}) to 0 at the end
 * @param lrEnd                 the cosine's final value and the decay's start (SAELens's default {@code lr / 10}); 0 = that default
 * @param gradClip              the largest global gradient norm per SAE (SAELens: 1.0); 0 turns clipping off
 * @param deadFeatureWindow     a latent that has not fired for more than this many steps is dead (AuxK, statistics)
 * @param featureSamplingWindow steps over which feature densities are counted before starting again
 * @param denseThreshold        a latent firing on more than this fraction of rows is dense
 * @param seed                  seeds the initial weights and the order of the activations
 * @param checkpointEvery       steps between checkpoints (0: only at the end)
 * @param shuffleBufferRows     rows in the shuffled stream's mixing buffer
 * @param initRows              rows sampled to initialise b_dec (mean or geometric median)
 */
public record SaeTrainingConfig(
        int steps,
        int batchSize,
        double lr,
        double beta1,
        double beta2,
        Scheduler scheduler,
        int lrWarmUpSteps,
        int lrDecaySteps,
        double lrEnd,
        double gradClip,
        int deadFeatureWindow,
        int featureSamplingWindow,
        double denseThreshold,
        long seed,
        int checkpointEvery,
        long shuffleBufferRows,
        int initRows) {

    /** SAELens's {@code lr_scheduler_name}: {@code constant} or {@code cosineannealing}. */
    public enum Scheduler {
        CONSTANT,
        COSINEANNEALING
    }

    public SaeTrainingConfig {
        check(steps > 0, "steps", steps, "a positive number of steps");
        check(batchSize > 0, "batch_size", batchSize, "a positive number of rows");
        check(lr > 0 && Double.isFinite(lr), "lr", lr, "a positive, finite learning rate");
        check(beta1 >= 0 && beta1 < 1, "adam_beta1", beta1, "a value in [0, 1)");
        check(beta2 >= 0 && beta2 < 1, "adam_beta2", beta2, "a value in [0, 1)");
        if (scheduler == null) scheduler = Scheduler.CONSTANT;
        check(
                lrWarmUpSteps >= 0 && lrDecaySteps >= 0 && lrWarmUpSteps + lrDecaySteps <= steps,
                "lr_warm_up_steps + lr_decay_steps",
                lrWarmUpSteps + lrDecaySteps,
                "between 0 and steps (" + steps + ")");
        check(lrEnd >= 0 && Double.isFinite(lrEnd), "lr_end", lrEnd, "a finite value >= 0 (0: lr / 10)");
        check(gradClip >= 0 && Double.isFinite(gradClip), "grad_clip", gradClip, "a finite value >= 0 (0: off)");
        check(deadFeatureWindow > 0, "dead_feature_window", deadFeatureWindow, "a positive number of steps");
        check(
                featureSamplingWindow > 0,
                "feature_sampling_window",
                featureSamplingWindow,
                "a positive number of steps");
        check(denseThreshold > 0 && denseThreshold <= 1, "dense_threshold", denseThreshold, "a fraction in (0, 1]");
        check(checkpointEvery >= 0, "checkpoint_every", checkpointEvery, "a value >= 0 (0: only at the end)");
        check(shuffleBufferRows > 0, "shuffle_buffer_rows", shuffleBufferRows, "a positive number of rows");
        check(initRows > 0, "init_rows", initRows, "a positive number of rows");
    }

    private static void check(boolean ok, String name, Object value, String expected) {
        if (!ok)
            throw new LoupeException(
                    "SAE training config: " + name + " = " + value + " is invalid, expected " + expected);
    }

    /** SAELens's defaults: lr 3e-4, Adam (0.9, 0.999), constant schedule, clipping at 1, windows of 1000 and 2000 steps. */
    public static SaeTrainingConfig of(int steps, int batchSize, double lr, long seed) {
        Draft d = new Draft();
        d.steps = steps;
        d.batchSize = batchSize;
        d.lr = lr;
        d.seed = seed;
        return d.build();
    }

    public SaeTrainingConfig withSchedule(Scheduler s, int warmUp, int decay, double end) {
        return edit(d -> {
            d.scheduler = s;
            d.lrWarmUpSteps = warmUp;
            d.lrDecaySteps = decay;
            d.lrEnd = end;
        });
    }

    public SaeTrainingConfig withCheckpointEvery(int every) {
        return edit(d -> d.checkpointEvery = every);
    }

    public SaeTrainingConfig withDeadFeatureWindow(int window) {
        return edit(d -> d.deadFeatureWindow = window);
    }

    public SaeTrainingConfig withFeatureSamplingWindow(int window) {
        return edit(d -> d.featureSamplingWindow = window);
    }

    public SaeTrainingConfig withShuffleBufferRows(long rows) {
        return edit(d -> d.shuffleBufferRows = rows);
    }

    public SaeTrainingConfig withGradClip(double clip) {
        return edit(d -> d.gradClip = clip);
    }

    /** A copy of this config with {@code change} applied, validated again by the canonical constructor. */
    private SaeTrainingConfig edit(Consumer<Draft> change) {
        Draft d = new Draft(this);
        change.accept(d);
        return d.build();
    }

    /**
     * A config being edited, so that each wither names only the fields it changes (and a new field is added
     * here, not in every wither). Its initial values are SAELens's defaults ({@link #of}); validation stays in
     * the canonical constructor, which {@link #build} calls.
     */
    private static final class Draft {
        int steps;
        int batchSize;
        double lr;
        double beta1 = 0.9;
        double beta2 = 0.999;
        Scheduler scheduler = Scheduler.CONSTANT;
        int lrWarmUpSteps = 0;
        int lrDecaySteps = 0;
        double lrEnd = 0;
        double gradClip = 1.0;
        int deadFeatureWindow = 1000;
        int featureSamplingWindow = 2000;
        double denseThreshold = 0.1;
        long seed;
        int checkpointEvery = 0;
        long shuffleBufferRows = 1 << 20;
        int initRows = 16384;

        Draft() {}

        Draft(SaeTrainingConfig c) {
            steps = c.steps;
            batchSize = c.batchSize;
            lr = c.lr;
            beta1 = c.beta1;
            beta2 = c.beta2;
            scheduler = c.scheduler;
            lrWarmUpSteps = c.lrWarmUpSteps;
            lrDecaySteps = c.lrDecaySteps;
            lrEnd = c.lrEnd;
            gradClip = c.gradClip;
            deadFeatureWindow = c.deadFeatureWindow;
            featureSamplingWindow = c.featureSamplingWindow;
            denseThreshold = c.denseThreshold;
            seed = c.seed;
            checkpointEvery = c.checkpointEvery;
            shuffleBufferRows = c.shuffleBufferRows;
            initRows = c.initRows;
        }

        SaeTrainingConfig build() {
            return new SaeTrainingConfig(
                    steps,
                    batchSize,
                    lr,
                    beta1,
                    beta2,
                    scheduler,
                    lrWarmUpSteps,
                    lrDecaySteps,
                    lrEnd,
                    gradClip,
                    deadFeatureWindow,
                    featureSamplingWindow,
                    denseThreshold,
                    seed,
                    checkpointEvery,
                    shuffleBufferRows,
                    initRows);
        }
    }

    /** {@code lr_end} with SAELens's default of {@code lr / 10}. */
    public double effectiveLrEnd() {
        return lrEnd > 0 ? lrEnd : lr / 10;
    }

    /**
     * The learning rate of step {@code t} (0-based), as SAELens's {@code get_lr_scheduler} composes torch's
     * schedulers: {@code LinearLR} warm-up from {@code lr/W} to {@code lr} over steps {@code 0..W-1}, the
     * main schedule, then {@code LinearLR} decay from {@code lr_end} (constant scheduler: {@code lr}) to 0.
     */
    public double learningRate(int t) {
        int w = lrWarmUpSteps, d = lrDecaySteps;
        if (w > 0 && t < w) {
            double start = 1.0 / w;
            return lr * (w == 1 ? 1 : start + (1 - start) * t / (double) (w - 1));
        }
        double end = scheduler == Scheduler.CONSTANT ? lr : effectiveLrEnd();
        if (d > 0 && t >= steps - d) return end * (1 - (t - (steps - d)) / (double) d);
        if (scheduler == Scheduler.CONSTANT) return lr;
        int tMax = Math.max(1, steps - w - d);
        return end + (lr - end) * (1 + Math.cos(Math.PI * (t - w) / tMax)) / 2;
    }

    /** SAELens's {@code CoefficientScheduler}: the coefficient at step {@code t}, rising from 0 to {@code value} over {@code warmUp} steps. */
    public static double coefficient(double value, int warmUp, int t) {
        return warmUp <= 0 ? value : value * Math.min(t, warmUp) / warmUp;
    }
}
