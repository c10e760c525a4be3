package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingCheckpoint;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.TrainingRun;
import dev.loupe.engine.train.tasks.TextTask;
import dev.loupe.engine.zoo.ModelCard;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.engine.zoo.ZooRecipe;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./loupe train --task induction|modadd|text --out DIR [--corpus FILE] [--steps N] ...}: trains
 * (or resumes) a zoo recipe.
 */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Trains a zoo model from its recipe (the defaults reproduce the embedded model).",
            "Resumes from DIR's checkpoints; writes config.json, model.safetensors, history.csv and a model card",
            "into DIR, and for --task text the tokenizer (char_tokenizer.json, or a copy of --tokenizer's files).",
            "--task text --corpus ../shared/corpora/tinyshakespeare.txt reproduces shakespeare-char."
        })
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--task",
            required = true,
            paramLabel = "TASK",
            completionCandidates = Tasks.class,
            description = "induction (attn-only-2l), modadd (modadd-1l) or text (shakespeare-char on its corpus)")
    String task;

    @Option(
            names = "--corpus",
            paramLabel = "FILE",
            description = "--task text: the UTF-8 text to learn; its last 10% is held out for val_loss")
    Path corpus;

    @Option(
            names = "--tokenizer",
            paramLabel = "char|PATH",
            description = "--task text: char (one token per character of the corpus, the default), a tokenizer path,"
                    + " or an embedded text model's name (its characters)")
    String tokenizer;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "run folder (created; resumed if it holds checkpoints)")
    Path out;

    @Option(names = "--steps", paramLabel = "N", description = "optimizer steps (default: the recipe's)")
    Integer steps;

    @Option(names = "--seed", paramLabel = "S", description = "default: the recipe's")
    Integer seed;

    @Option(names = "--lr", paramLabel = "X", description = "peak learning rate (default: the recipe's)")
    Double lr;

    @Option(names = "--batch", paramLabel = "B", description = "batch size (default: the recipe's)")
    Integer batch;

    @Option(names = "--weight-decay", paramLabel = "W", description = "AdamW weight decay (default: the recipe's)")
    Double weightDecay;

    @Option(
            names = "--schedule",
            paramLabel = "S",
            completionCandidates = Schedules.class,
            description = "constant or cosine (default: the recipe's)")
    String schedule;

    @Option(names = "--eval-every", paramLabel = "N", description = "steps between evaluations (default: the recipe's)")
    Integer evalEvery;

    @Option(
            names = "--checkpoint-every",
            paramLabel = "N",
            description = "steps between checkpoints (default: the recipe's)")
    Integer checkpointEvery;

    @Option(
            names = "--stop-after",
            paramLabel = "N",
            description = "stop after step N, leaving a checkpoint to resume from (the same command again resumes)")
    Integer stopAfter;

    @Option(
            names = "--shards",
            paramLabel = "N",
            description = "parts of each batch computed at once, one thread each (default: one per processor)")
    Integer shards;

    static final class Tasks extends java.util.ArrayList<String> {
        Tasks() {
            super(java.util.List.of("induction", "modadd", "text"));
        }
    }

    static final class Schedules extends java.util.ArrayList<String> {
        Schedules() {
            super(java.util.List.of("constant", "cosine"));
        }
    }

    @Override
    public Integer call() {
        ZooRecipe recipe = recipe();
        TrainingConfig.Builder b = recipe.training().toBuilder();
        if (steps != null) b.steps(steps).warmupSteps(Math.min(recipe.training().warmupSteps(), Math.max(0, steps)));
        if (seed != null) b.seed(seed);
        if (lr != null) b.lr(lr);
        if (batch != null) b.batchSize(batch);
        if (weightDecay != null) b.weightDecay(weightDecay);
        if (evalEvery != null) b.evalEvery(evalEvery);
        if (checkpointEvery != null) b.checkpointEvery(checkpointEvery);
        if (schedule != null) {
            if (!schedule.equals("constant") && !schedule.equals("cosine"))
                throw new LoupeException("train: --schedule must be constant or cosine, got '" + schedule + "'");
            b.schedule(schedule.equals("constant") ? TrainingConfig.Schedule.CONSTANT : TrainingConfig.Schedule.COSINE);
        }
        TrainingConfig config = b.build();
        Trainer trainer = new Trainer(recipe.trainingTask(), config).outputTo(out);
        if (stopAfter != null) trainer.stopAfter(stopAfter);
        if (shards != null) {
            if (shards < 1) throw new LoupeException("train: --shards must be >= 1, got " + shards);
            trainer.shards(shards);
        }
        // A resumed run times only the steps after its checkpoint; the card says which.
        int resumedAfter = TrainingCheckpoint.latest(out)
                .map(dir -> TrainingCheckpoint.readState(dir).step())
                .orElse(0);
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
            return 0;
        }
        String command = commandLine(recipe);
        byte[] card =
                ModelCard.render(recipe, run, command, seconds, resumedAfter).getBytes(StandardCharsets.UTF_8);
        AtomicFileWriter.write(out.resolve(ModelCard.FILE), ch -> ch.write(ByteBuffer.wrap(card)));
        System.out.println(ModelCard.metricsLine(run));
        System.out.println("wrote " + out + " (config.json, model.safetensors, "
                + (recipe.trainingTask() instanceof TextTask ? "the tokenizer, " : "") + "history.csv, "
                + ModelCard.FILE
                + ")");
        return 0;
    }

    /** The recipe of --task; text reads --corpus with --tokenizer. */
    private ZooRecipe recipe() {
        if (!task.equals("text")) {
            if (corpus != null || tokenizer != null)
                throw new LoupeException("train: --corpus and --tokenizer are for --task text, not " + task);
            return ZooRecipe.forTask(task);
        }
        if (corpus == null) throw new LoupeException("train: --task text needs --corpus FILE (UTF-8 text)");
        String tok = tokenizer == null ? "char" : tokenizer;
        Path asPath = tok.equals("char") ? null : Path.of(tok);
        TextTask text = asPath != null && ModelTokenizer.isZooName(asPath)
                ? TextTask.load(corpus, zooAlphabet(tok), ZooRecipe.TEXT_SEQ_LEN)
                : TextTask.load(corpus, tok, ZooRecipe.TEXT_SEQ_LEN);
        System.out.println("task text: " + text);
        return ZooRecipe.text(text);
    }

    private static CharTokenizer zooAlphabet(String name) {
        if (Zoo.tokenizer(name) instanceof CharTokenizer c) return c;
        throw new LoupeException("train: --tokenizer " + name + " is not a character tokenizer");
    }

    /** The command that reproduces this run, for the model card: the options given, as typed, in name order. */
    private String commandLine(ZooRecipe recipe) {
        Set<String> excluded = Set.of("--task", "--out", "--stop-after", "--corpus");
        TreeMap<String, String> given = new TreeMap<>();
        for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
            String name = o.longestName();
            if (excluded.contains(name)) continue;
            var values = o.originalStringValues();
            given.put(name.substring(2), values.isEmpty() ? null : values.get(values.size() - 1));
        }
        StringBuilder sb = new StringBuilder(
                "./loupe train --task " + recipe.task() + (corpus == null ? "" : " --corpus " + corpus) + " --out DIR");
        given.forEach((name, value) -> sb.append(" --").append(name).append(value == null ? "" : " " + value));
        return sb.toString();
    }
}
