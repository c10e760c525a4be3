package dev.loupe.cli;

import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.TrainingRun;
import dev.loupe.engine.zoo.ModelCard;
import dev.loupe.engine.zoo.ZooRecipe;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/** {@code ./loupe train --task induction|modadd --out DIR [--steps N] ...}: trains (or resumes) a zoo recipe. */
final class TrainCommand {
    static final Set<String> OPTIONS = Set.of(
            "task",
            "out",
            "steps",
            "seed",
            "lr",
            "batch",
            "weight-decay",
            "eval-every",
            "checkpoint-every",
            "stop-after",
            "schedule",
            "shards");

    private TrainCommand() {}

    static void run(Args a) {
        ZooRecipe recipe = ZooRecipe.forTask(a.required("task"));
        Path out = Path.of(a.required("out"));
        TrainingConfig.Builder b = recipe.training().toBuilder();
        if (a.get("steps", null) != null) {
            int steps = a.integer("steps", 0);
            b.steps(steps).warmupSteps(Math.min(recipe.training().warmupSteps(), Math.max(0, steps)));
        }
        if (a.get("seed", null) != null) b.seed(a.integer("seed", 0));
        if (a.get("lr", null) != null) b.lr(a.number("lr", 0));
        if (a.get("batch", null) != null) b.batchSize(a.integer("batch", 0));
        if (a.get("weight-decay", null) != null) b.weightDecay(a.number("weight-decay", 0));
        if (a.get("eval-every", null) != null) b.evalEvery(a.integer("eval-every", 0));
        if (a.get("checkpoint-every", null) != null) b.checkpointEvery(a.integer("checkpoint-every", 0));
        if (a.get("schedule", null) != null) {
            String s = a.get("schedule", "");
            if (!s.equals("constant") && !s.equals("cosine"))
                throw a.usage("--schedule must be constant or cosine, got '" + s + "'");
            b.schedule(s.equals("constant") ? TrainingConfig.Schedule.CONSTANT : TrainingConfig.Schedule.COSINE);
        }
        TrainingConfig config = b.build();
        Trainer trainer = new Trainer(recipe.trainingTask(), config).outputTo(out);
        if (a.get("stop-after", null) != null) trainer.stopAfter(a.integer("stop-after", 0));
        if (a.get("shards", null) != null) {
            int shards = a.integer("shards", 0);
            if (shards < 1) throw a.usage("--shards must be >= 1, got " + shards);
            trainer.shards(shards);
        }
        long t0 = System.nanoTime();
        TrainingRun run = trainer.train(recipe.modelConfig());
        double seconds = (System.nanoTime() - t0) / 1e9;
        int done = run.rows().isEmpty() ? 0 : (int) run.last("step");
        if (done < config.steps()) {
            System.out.printf(
                    Locale.ROOT,
                    "stopped after step %d of %d; run the same command again to resume from %s%n",
                    done,
                    config.steps(),
                    out.resolve("checkpoints"));
            return;
        }
        String command = commandLine(a, recipe);
        byte[] card = ModelCard.render(recipe, run, command, seconds).getBytes(StandardCharsets.UTF_8);
        AtomicFileWriter.write(out.resolve(ModelCard.FILE), ch -> ch.write(ByteBuffer.wrap(card)));
        System.out.println(ModelCard.metricsLine(run));
        System.out.println("wrote " + out + " (config.json, model.safetensors, history.csv, " + ModelCard.FILE + ")");
    }

    private static String commandLine(Args a, ZooRecipe recipe) {
        return "./loupe train --task " + recipe.task() + " --out DIR"
                + a.describeExcept(Set.of("task", "out", "stop-after"));
    }
}
