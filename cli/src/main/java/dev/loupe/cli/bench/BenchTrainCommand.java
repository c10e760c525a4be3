package dev.loupe.cli.bench;

import dev.loupe.bench.TrainBenchmark;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench train}: see {@link TrainBenchmark}. */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Optimizer steps/s (forward, backward, clipping, AdamW) of a zoo architecture.",
            "On a fixed random batch; with --vs-torch also PyTorch's, last line ratio_vs_torch=..."
        })
public final class BenchTrainCommand implements Callable<Integer> {
    @Option(
            names = "--model",
            paramLabel = "NAME",
            defaultValue = "attn-only-2l",
            completionCandidates = Models.class,
            description = "attn-only-2l, modadd-1l or shakespeare-char; default: ${DEFAULT-VALUE}")
    String model;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "default: ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--seq", paramLabel = "N", defaultValue = "64", description = "default: ${DEFAULT-VALUE}")
    int seq;

    @Option(
            names = "--steps",
            paramLabel = "N",
            defaultValue = "30",
            description = "timed steps; default: ${DEFAULT-VALUE}")
    int steps;

    @Option(
            names = "--warmup",
            paramLabel = "N",
            defaultValue = "5",
            description = "untimed steps first; default: ${DEFAULT-VALUE}")
    int warmup;

    @Option(
            names = "--shards",
            paramLabel = "N",
            description = "parts of the batch computed at once (default: one per processor)")
    Integer shards;

    @Option(
            names = "--vs-torch",
            description = "also run the PyTorch peer with as many threads (shakespeare-char: as nanoGPT's model.py)")
    boolean vsTorch;

    @Option(
            names = "--python",
            paramLabel = "PATH",
            description = "the Python with torch for --vs-torch (default: $LOUPE_PYTHON, else /usr/bin/python3)")
    String python;

    static final class Models extends java.util.ArrayList<String> {
        Models() {
            super(TrainBenchmark.MODELS);
        }
    }

    @Override
    public Integer call() {
        TrainBenchmark.run(new TrainBenchmark.Settings(model, batch, seq, steps, warmup, shards, vsTorch, python));
        return 0;
    }
}
