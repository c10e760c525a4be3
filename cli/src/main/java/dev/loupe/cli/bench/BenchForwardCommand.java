package dev.loupe.cli.bench;

import dev.loupe.bench.ForwardBenchmark;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench forward}: see {@link ForwardBenchmark}. */
@Command(
        name = "forward",
        mixinStandardHelpOptions = true,
        description = {
            "Forward throughput (tokens/s, GFLOP/s) on random weights of a named shape.",
            "Optionally while caching every activation; with --vs-torch also PyTorch's, last line ratio_vs_torch=..."
        })
public final class BenchForwardCommand implements Callable<Integer> {
    @Option(
            names = "--shape",
            paramLabel = "NAME",
            defaultValue = "gpt2-small",
            completionCandidates = Shapes.class,
            description = "gpt2-small or tiny; default: ${DEFAULT-VALUE}")
    String shape;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "4", description = "default: ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--seq", paramLabel = "N", defaultValue = "256", description = "default: ${DEFAULT-VALUE}")
    int seq;

    @Option(
            names = "--cache",
            paramLabel = "WHAT",
            defaultValue = "none",
            description =
                    "none, or all: also measure a forward that caches every activation; default: ${DEFAULT-VALUE}")
    String cache;

    @Option(
            names = "--iters",
            paramLabel = "N",
            defaultValue = "5",
            description = "timed runs (the median counts); default: ${DEFAULT-VALUE}")
    int iters;

    @Option(
            names = "--warmup",
            paramLabel = "N",
            defaultValue = "1",
            description = "untimed runs first; default: ${DEFAULT-VALUE}")
    int warmup;

    @Option(
            names = "--seed",
            paramLabel = "S",
            defaultValue = "0",
            description = "weights and tokens; default: ${DEFAULT-VALUE}")
    int seed;

    @Option(
            names = "--vs-torch",
            description = "also run the PyTorch peer (Debian's python3-torch) with as many threads")
    boolean vsTorch;

    static final class Shapes extends java.util.ArrayList<String> {
        Shapes() {
            super(ForwardBenchmark.SHAPE_NAMES);
        }
    }

    @Override
    public Integer call() {
        ForwardBenchmark.run(new ForwardBenchmark.Settings(shape, batch, seq, cache, iters, warmup, seed, vsTorch));
        return 0;
    }
}
