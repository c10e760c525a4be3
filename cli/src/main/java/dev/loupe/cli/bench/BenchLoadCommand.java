package dev.loupe.cli.bench;

import dev.loupe.bench.LoadBenchmark;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench load}: see {@link LoadBenchmark}. */
@Command(
        name = "load",
        mixinStandardHelpOptions = true,
        description = {
            "Load time and peak memory of a GPT-2-small-sized Hugging Face checkpoint.",
            "The checkpoint is written first, then loaded in a fresh JVM."
        })
public final class BenchLoadCommand implements Callable<Integer> {
    @Option(
            names = "--dtype",
            paramLabel = "TYPE",
            defaultValue = "bf16",
            description = "bf16, f16 or f32: how the weights are stored; default: ${DEFAULT-VALUE}")
    String dtype;

    @Override
    public Integer call() {
        LoadBenchmark.run(dtype);
        return 0;
    }
}
