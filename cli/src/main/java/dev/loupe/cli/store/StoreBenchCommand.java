package dev.loupe.cli.store;

import dev.loupe.bench.StoreBenchmark;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe store bench}: see {@link StoreBenchmark}. */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Measures the store against its peers in the same run.",
            "Harvest vs plain forward (>= 0.9), write MB/s vs dd (>= 0.7), shuffled-stream GB/s (>= 1)."
        })
public final class StoreBenchCommand implements Callable<Integer> {
    @Option(
            names = "--out",
            paramLabel = "DIR",
            description = "where to write (default: a new temporary folder, deleted after)")
    Path out;

    @Option(
            names = "--shape",
            paramLabel = "NAME",
            defaultValue = "gpt2-small",
            description = "gpt2-small or tiny; default: ${DEFAULT-VALUE}")
    String shape;

    @Option(
            names = "--hook",
            paramLabel = "H",
            description = "the harvested hook (default: the middle block's hook_resid_post)")
    String hook;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "8", description = "default: ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--context", paramLabel = "N", defaultValue = "128", description = "default: ${DEFAULT-VALUE}")
    int context;

    @Option(
            names = "--batches",
            paramLabel = "N",
            defaultValue = "6",
            description = "harvested batches; default: ${DEFAULT-VALUE}")
    int batches;

    @Option(
            names = "--dtype",
            paramLabel = "TYPE",
            defaultValue = "bf16",
            description = "f32, f16 or bf16; default: ${DEFAULT-VALUE}")
    String dtype;

    @Option(
            names = "--buffer-rows",
            paramLabel = "N",
            defaultValue = "1000000",
            description = "shuffle buffer; default: ${DEFAULT-VALUE}")
    long bufferRows;

    @Option(
            names = "--stream-rows",
            paramLabel = "N",
            defaultValue = "1500000",
            description = "rows written, then streamed; default: ${DEFAULT-VALUE}")
    long streamRows;

    @Override
    public Integer call() {
        StoreBenchmark.run(
                new StoreBenchmark.Settings(out, shape, hook, batch, context, batches, dtype, bufferRows, streamRows));
        return 0;
    }
}
