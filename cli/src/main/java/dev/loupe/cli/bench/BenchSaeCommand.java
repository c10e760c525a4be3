package dev.loupe.cli.bench;

import dev.loupe.bench.SaeBenchmark;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench sae}: see {@link SaeBenchmark}. */
@Command(
        name = "sae",
        mixinStandardHelpOptions = true,
        description = {
            "TopK SAE training steps/s (SAELens's step) on a fixed random batch, then from a store's shuffled stream.",
            "With --vs-torch also the same step in plain PyTorch, last line ratio_vs_torch=..."
        })
public final class BenchSaeCommand implements Callable<Integer> {
    @Option(names = "--d-in", paramLabel = "N", defaultValue = "768", description = "default: ${DEFAULT-VALUE}")
    int dIn;

    @Option(names = "--d-sae", paramLabel = "N", defaultValue = "16384", description = "default: ${DEFAULT-VALUE}")
    int dSae;

    @Option(names = "--k", paramLabel = "K", defaultValue = "32", description = "default: ${DEFAULT-VALUE}")
    int k;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "4096", description = "default: ${DEFAULT-VALUE}")
    int batch;

    @Option(
            names = "--steps",
            paramLabel = "N",
            defaultValue = "5",
            description = "timed steps; default: ${DEFAULT-VALUE}")
    int steps;

    @Option(
            names = "--warmup",
            paramLabel = "N",
            defaultValue = "2",
            description = "untimed steps first; default: ${DEFAULT-VALUE}")
    int warmup;

    @Option(
            names = "--stream-steps",
            paramLabel = "N",
            defaultValue = "6",
            description = "steps trained from a synthetic store (0: skip); default: ${DEFAULT-VALUE}")
    int streamSteps;

    @Option(names = "--vs-torch", description = "also run the PyTorch peer with as many threads")
    boolean vsTorch;

    @Option(
            names = "--python",
            paramLabel = "PATH",
            description = "the peer's Python (default: $LOUPE_PYTHON, else /usr/bin/python3)")
    String python;

    @Override
    public Integer call() {
        String py = python != null ? python : System.getenv().getOrDefault("LOUPE_PYTHON", "/usr/bin/python3");
        SaeBenchmark.run(new SaeBenchmark.Settings(dIn, dSae, k, batch, steps, warmup, vsTorch, py, streamSteps));
        return 0;
    }
}
