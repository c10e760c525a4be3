package dev.loupe.engine.zoo;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.train.tasks.ModularAdditionTask;
import java.util.List;

/**
 * How each embedded model is trained: architecture, task and hyper-parameters. {@code ./loupe train
 * --task induction|modadd} runs these, and the committed weights came from them.
 *
 * @param model the zoo name ({@code attn-only-2l}, {@code modadd-1l})
 * @param task  the CLI task name ({@code induction}, {@code modadd})
 */
public record ZooRecipe(
        String model,
        String task,
        String description,
        Task trainingTask,
        ModelConfig modelConfig,
        TrainingConfig training) {

    /** Induction on repeated random tokens: a 2-layer attention-only model (as TransformerLens's attn-only-2l, smaller). */
    public static ZooRecipe attnOnly2l() {
        InductionTask task = new InductionTask(512, 64);
        ModelConfig model = ModelConfig.builder()
                .dModel(128)
                .nLayers(2)
                .nHeads(4)
                .dHead(32)
                .attnOnly(true)
                .dVocab(task.dVocab())
                .nCtx(task.seqLen())
                .build();
        TrainingConfig training = TrainingConfig.builder()
                .steps(4000)
                .batchSize(64)
                .lr(1e-3)
                .weightDecay(0.01)
                .warmupSteps(100)
                .gradClip(1.0)
                .evalEvery(250)
                .checkpointEvery(250)
                .seed(0)
                .initRange(0.02)
                .build();
        return new ZooRecipe(
                "attn-only-2l",
                "induction",
                "2-layer attention-only transformer trained on random tokens with a repeated segment; "
                        + "has previous-token heads in layer 0 and induction heads in layer 1",
                task,
                model,
                training);
    }

    /** Modular addition mod 113 (Nanda et al.'s grokking setup): 1 layer, ReLU MLP, no LayerNorm. */
    public static ZooRecipe modadd1l() {
        ModularAdditionTask task = new ModularAdditionTask(113, 0.5, 598);
        ModelConfig model = ModelConfig.builder()
                .dModel(128)
                .nLayers(1)
                .nHeads(4)
                .dHead(32)
                .dMlp(512)
                .activation(ModelConfig.Activation.RELU)
                .normalization(ModelConfig.Normalization.NONE)
                .dVocab(task.dVocab())
                .nCtx(3)
                .build();
        TrainingConfig training = TrainingConfig.builder()
                .steps(1000)
                .batchSize(task.trainSize())
                .lr(2e-3)
                .weightDecay(1.0)
                .betas(0.9, 0.98)
                .warmupSteps(10)
                .schedule(TrainingConfig.Schedule.CONSTANT)
                .gradClip(0)
                .evalEvery(100)
                .checkpointEvery(250)
                .seed(999)
                .build();
        return new ZooRecipe(
                "modadd-1l",
                "modadd",
                "1-layer transformer trained on (a + b) mod 113 with strong weight decay; generalises to held-out "
                        + "pairs through Fourier features (grokking)",
                task,
                model,
                training);
    }

    public static List<ZooRecipe> all() {
        return List.of(attnOnly2l(), modadd1l());
    }

    /** The recipe of a CLI task name. */
    public static ZooRecipe forTask(String task) {
        for (ZooRecipe r : all()) if (r.task().equals(task)) return r;
        throw new LoupeException("unknown task '" + task + "'; expected one of induction, modadd");
    }
}
