package dev.loupe.saes.train;

import dev.loupe.engine.LoupeException;
import java.nio.file.Path;
import java.util.Map;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.ResetPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One SAE in training with everything that changes as it learns: its parameters ({@link TrainingSae}),
 * Adam's moments, the latent statistics, and the activation scaling factor. {@link #step} is SAELens's
 * {@code SAETrainer._train_step} for it.
 */
public final class SaeLearner {
    private static final WorkspaceConfiguration STEP_MEMORY = WorkspaceConfiguration.builder()
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policyAllocation(AllocationPolicy.OVERALLOCATE)
            .overallocationLimit(0.2)
            .policyReset(ResetPolicy.BLOCK_LEFT)
            .policySpill(SpillPolicy.REALLOCATE)
            .build();

    private final TrainingSae sae;
    private final Adam adam;
    private final LatentStats stats;
    private double scalingFactor = 1;

    public SaeLearner(TrainingSae sae, SaeTrainingConfig config) {
        this.sae = sae;
        this.adam = new Adam(sae.params(), config.beta1(), config.beta2(), 1e-8);
        this.stats = new LatentStats(sae.spec().dSae());
    }

    public TrainingSae sae() {
        return sae;
    }

    public Adam adam() {
        return adam;
    }

    public LatentStats stats() {
        return stats;
    }

    public double scalingFactor() {
        return scalingFactor;
    }

    void scalingFactor(double s) {
        scalingFactor = s;
    }

    /** What one step reports: the SAE's outputs and its gradient norm before clipping. */
    public record Result(StepOutput output, double gradNorm) {}

    /**
     * Step {@code step} (0-based) on {@code batch} (unscaled): the sampling window's reset, the loss and
     * gradients with this step's coefficients and dead latents, clipping, Adam at this step's learning
     * rate, and the latent statistics. A non-finite loss or gradient norm throws before any update.
     *
     * @param lastGood the newest checkpoint, named in the error if the SAE diverges (may be null)
     */
    public Result step(INDArray batch, int step, SaeTrainingConfig config, Path lastGood) {
        SaeSpec spec = sae.spec();
        if ((step + 1) % config.featureSamplingWindow() == 0) stats.resetWindow();
        StepContext ctx = new StepContext(
                step,
                SaeTrainingConfig.coefficient(spec.l1Coefficient(), spec.l1WarmUpSteps(), step),
                SaeTrainingConfig.coefficient(spec.l0Coefficient(), spec.l0WarmUpSteps(), step),
                stats.dead(config.deadFeatureWindow()));
        StepOutput o;
        double norm;
        // Every array of the step lives in a workspace reset for the next one: ND4J frees other off-heap
        // memory only when the garbage collector runs.
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(STEP_MEMORY, "loupe-sae-step")) {
            INDArray x = scalingFactor == 1 ? batch : batch.mul(scalingFactor);
            o = sae.step(x, ctx);
            if (!Double.isFinite(o.loss())) throw diverged("its loss is " + o.loss(), step, lastGood);
            norm = sae.params().grads().norm2Number().doubleValue();
            if (!Double.isFinite(norm)) throw diverged("its gradient norm is " + norm, step, lastGood);
            // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1
            if (config.gradClip() > 0) {
                double scale = Math.min(1, config.gradClip() / (norm + 1e-6));
                if (scale < 1) sae.params().grads().muli(scale);
            }
            adam.update(config.learningRate(step));
        }
        stats.update(o.fired(), (int) batch.size(0));
        return new Result(o, norm);
    }

    /** The metrics of a step for the history, prefixed ({@code "name/"} or ""). */
    public void record(Result r, SaeTrainingConfig config, String prefix, Map<String, Double> row) {
        StepOutput o = r.output();
        row.put(prefix + "loss", o.loss());
        o.losses().forEach((k, v) -> row.put(prefix + k, v));
        row.put(prefix + "l0", o.l0());
        row.put(prefix + "explained_variance", o.explainedVariance());
        row.put(prefix + "grad_norm", r.gradNorm());
        row.put(prefix + "dead_fraction", stats.deadFraction(config.deadFeatureWindow()));
        row.put(prefix + "dense_fraction", stats.denseFraction(config.denseThreshold()));
    }

    private LoupeException diverged(String what, int step, Path lastGood) {
        return new LoupeException("SAE '" + sae.spec().name() + "' diverged at step " + (step + 1) + ": " + what
                + "; its weights were not updated. "
                + (lastGood != null ? "The last good checkpoint is " + lastGood : "No checkpoint was saved yet")
                + ". Try a lower learning rate.");
    }
}
