package dev.loupe.engine.zoo;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.train.tasks.ModularAdditionTask;
import dev.loupe.engine.train.tasks.TextTask;
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

    /** The zoo name of the text recipe trained on char-rnn's tinyshakespeare.txt with the character tokenizer. */
    public static final String SHAKESPEARE_CHAR = "shakespeare-char";

    /** The SHA-256 of char-rnn's tinyshakespeare.txt (1,115,394 characters). */
    public static final String TINY_SHAKESPEARE_SHA256 =
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";

    /** Sequence length of the text recipe: the model's context. */
    public static final int TEXT_SEQ_LEN = 128;

    /**
     * The text recipe's architecture, GPT-2's in small: LayerNorm before each sublayer, learned
     * positions, GELU (tanh form) MLPs 4x wide, biases everywhere; {@code dVocab} from the tokenizer.
     */
    public static ModelConfig textModel(int dVocab) {
        return ModelConfig.builder()
                .dModel(128)
                .nLayers(4)
                .nHeads(4)
                .dHead(32)
                .dMlp(512)
                .activation(ModelConfig.Activation.GELU_NEW)
                .normalization(ModelConfig.Normalization.LAYER_NORM)
                .dVocab(dVocab)
                .nCtx(TEXT_SEQ_LEN)
                .build();
    }

    /**
     * The text recipe's training: nanoGPT's shakespeare_char settings (AdamW betas 0.9/0.99, weight
     * decay 0.1, 100 warm-up steps, cosine to 10%) with a higher peak learning rate for the smaller
     * model, and batches of 32 sequences (4,096 tokens) so that 2,500 steps fit in half an hour on two free
     * cores (the shipped run took about 31 CPU-minutes).
     */
    public static TrainingConfig textTraining() {
        return TrainingConfig.builder()
                .steps(2500)
                .batchSize(32)
                .lr(2e-3)
                .weightDecay(0.1)
                .betas(0.9, 0.99)
                .warmupSteps(100)
                .gradClip(1.0)
                .evalEvery(250)
                .checkpointEvery(250)
                .seed(0)
                .initRange(0.02)
                .build();
    }

    /**
     * Next-character (or next-token) prediction on a corpus: {@code ./loupe train --task text}. On
     * char-rnn's tinyshakespeare.txt with the character tokenizer this is the recipe of the embedded
     * {@code shakespeare-char}; on another corpus the model is named after the corpus file.
     */
    public static ZooRecipe text(TextTask task) {
        boolean shakespeare = task.sha256().equals(TINY_SHAKESPEARE_SHA256)
                && task.tokenizer() instanceof dev.loupe.engine.tokenizer.CharTokenizer;
        String stem = task.corpus().getFileName().toString().replaceFirst("\\.[^.]*$", "");
        return new ZooRecipe(
                shakespeare ? SHAKESPEARE_CHAR : stem + "-text",
                "text",
                "GPT-2-style 4-layer transformer trained to predict the next "
                        + (task.tokenizer() instanceof dev.loupe.engine.tokenizer.CharTokenizer ? "character" : "token")
                        + " of " + task.corpus().getFileName()
                        + ", with the last 10% of the corpus held out (nanoGPT's split)",
                task,
                textModel(task.vocabSize()),
                textTraining());
    }

    public static List<ZooRecipe> all() {
        return List.of(attnOnly2l(), modadd1l());
    }

    /** The recipe of a CLI task name ({@code text} needs its corpus: {@link #text}). */
    public static ZooRecipe forTask(String task) {
        for (ZooRecipe r : all()) if (r.task().equals(task)) return r;
        if (task.equals("text")) throw new LoupeException("the text task needs a corpus (--corpus FILE)");
        throw new LoupeException("unknown task '" + task + "'; expected one of induction, modadd, text");
    }
}
