package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.NativeKernels;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.train.TaskBatch;
import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.engine.zoo.ZooRecipe;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe bench train}: optimizer steps per second (forward, backward, gradient clipping,
 * AdamW) of a zoo architecture on random next-token batches, and with {@code --vs-torch} the same
 * step in PyTorch on the same machine; last line {@code ratio_vs_torch=<loupe ÷ torch steps/s>}.
 */
public final class TrainBenchmark {

    private TrainBenchmark() {}

    /**
     * A zoo {@code model}'s architecture on batch x seq tokens, {@code steps} timed steps after
     * {@code warmup}, the batch cut into {@code shards} (null: one per processor), and with
     * {@code vsTorch} the PyTorch peer too.
     */
    public record Settings(
            String model, int batch, int seq, int steps, int warmup, Integer shards, boolean vsTorch, String python) {}

    /** The zoo models this benchmark knows. */
    public static final List<String> MODELS = List.of("attn-only-2l", "modadd-1l", ZooRecipe.SHAKESPEARE_CHAR);

    public static void run(Settings a) {
        String name = a.model();
        if (!MODELS.contains(name))
            throw new LoupeException(
                    "bench train: unknown --model '" + name + "' (known: " + String.join(", ", MODELS) + ")");
        boolean text = name.equals(ZooRecipe.SHAKESPEARE_CHAR);
        // The text model's recipe reads its corpus; its architecture is the recipe's with the shipped vocabulary.
        ZooRecipe recipe = text
                ? null
                : ZooRecipe.all().stream()
                        .filter(r -> r.model().equals(name))
                        .findFirst()
                        .orElseThrow();
        ModelConfig cfg = text ? Zoo.config(name) : recipe.modelConfig();
        TrainingConfig recipeTraining = text ? ZooRecipe.textTraining() : recipe.training();
        int batch = a.batch(),
                seq = a.seq(),
                steps = a.steps(),
                warmup = a.warmup(),
                shards = a.shards() != null ? a.shards() : Runtime.getRuntime().availableProcessors();
        if (batch < 1 || steps < 1 || warmup < 0 || shards < 1)
            throw new LoupeException("bench train: --batch, --steps and --shards must be >= 1, --warmup >= 0");
        if (seq < 2 || seq > cfg.nCtx())
            throw new LoupeException("bench train: --seq must be in [2, n_ctx = " + cfg.nCtx() + "], got " + seq);
        int threads = Nd4j.getEnvironment().maxMasterThreads();
        System.out.printf(
                Locale.ROOT,
                "model %s (%,d parameters), batch %d x seq %d in %d shards, %d steps after %d warm-up, %d threads%n",
                name,
                cfg.parameterCount(),
                batch,
                seq,
                Math.min(shards, batch),
                steps,
                warmup,
                threads);
        System.out.println(
                NativeKernels.available()
                        ? "fused native kernels: attention, GELU, LayerNorm"
                        : "fused native kernels: off (" + NativeKernels.unavailableBecause() + "); ND4J ops instead");

        // The same fixed batch every step, as the peer: this measures the step, not data generation.
        SplittableRandom rng = new SplittableRandom(0);
        int[][] ids = new int[batch][seq];
        for (int[] row : ids) for (int i = 0; i < seq; i++) row[i] = rng.nextInt(cfg.dVocab());
        TaskBatch fixed = TaskBatch.nextToken(Tokens.of(ids));
        Task task = (b, r) -> fixed;
        TrainingConfig training = recipeTraining.toBuilder()
                .steps(warmup + steps)
                .batchSize(batch)
                .warmupSteps(0)
                .evalEvery(0)
                .gradClip(1.0)
                .build();
        List<Long> times = new ArrayList<>();
        try (ProgressBar bar = ProgressBar.onStderr("bench train", 0, warmup + steps, "steps")) {
            new Trainer(task, training)
                    .shards(shards)
                    .showProgress(false)
                    .onStep((s, row) -> {
                        times.add(System.nanoTime());
                        bar.update(s, String.format(Locale.ROOT, "loss %.4f", row.get("loss")));
                    })
                    .train(cfg);
        }
        double seconds = (times.get(times.size() - 1) - times.get(warmup == 0 ? 0 : warmup - 1)) / 1e9;
        double loupe = (warmup == 0 ? steps - 1 : steps) / seconds;
        System.out.printf(
                Locale.ROOT,
                "loupe: %.2f steps/s (%.1f ms/step, %.0f tokens/s)%n",
                loupe,
                1000 / loupe,
                loupe * batch * seq);
        if (a.vsTorch()) {
            double torch = torchStepsPerSecond(cfg, training, batch, seq, steps, warmup, threads, text, a.python());
            System.out.printf(Locale.ROOT, "torch: %.2f steps/s (%.1f ms/step)%n", torch, 1000 / torch);
            System.out.printf(Locale.ROOT, "ratio_vs_torch=%.3f%n", loupe / torch);
        }
    }

    /**
     * The same step in PyTorch; {@code nanoGpt} runs it as nanoGPT's model.py (modules, fused qkv,
     * scaled_dot_product_attention), else as a plain functional transformer.
     */
    private static double torchStepsPerSecond(
            ModelConfig c,
            TrainingConfig t,
            int batch,
            int seq,
            int steps,
            int warmup,
            int threads,
            boolean nanoGpt,
            String pythonOption) {
        Map<String, Object> config = TorchPeer.architecture(c);
        if (nanoGpt) config.put("arch", "nanogpt");
        config.put("attn_only", c.attnOnly());
        config.put("normalization", c.normalization().name());
        config.put("activation", c.activation().name());
        config.put("unembed_bias", c.biases().unembed());
        config.put("tied_embeddings", c.tiedEmbeddings());
        config.put("lr", t.lr());
        config.put("beta1", t.beta1());
        config.put("beta2", t.beta2());
        config.put("adam_eps", t.eps());
        config.put("weight_decay", t.weightDecay());
        config.put("grad_clip", t.gradClip());
        if (nanoGpt
                && !(c.normalization() == ModelConfig.Normalization.LAYER_NORM
                        && c.positional() == ModelConfig.Positional.LEARNED
                        && !c.attnOnly()
                        && c.biases().equals(ModelConfig.Biases.all())))
            throw new LoupeException("bench train: the nanoGPT peer needs a GPT-2-style model, got " + c);
        String python = TorchPeer.python(pythonOption);
        JsonNode json = TorchPeer.run(
                python,
                "torch_train.py",
                List.of(
                        "--config",
                        Json.write(config),
                        "--batch",
                        "" + batch,
                        "--seq",
                        "" + seq,
                        "--steps",
                        "" + steps,
                        "--warmup",
                        "" + warmup,
                        "--threads",
                        "" + threads));
        System.out.println("torch " + json.path("torch").asText() + " (" + python + ")"
                + (nanoGpt
                        ? ", nanoGPT's model.py ("
                                + (json.path("flash").asBoolean()
                                        ? "scaled_dot_product_attention"
                                        : "masked attention: this torch has no scaled_dot_product_attention")
                                + "),"
                        : "")
                + " with "
                + json.path("threads").asInt() + " threads, final loss "
                + json.path("loss").asText());
        return json.path("steps_per_s").asDouble();
    }
}
