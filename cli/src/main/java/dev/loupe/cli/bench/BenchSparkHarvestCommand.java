package dev.loupe.cli.bench;

import dev.loupe.bench.SparkHarvestBenchmark;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench spark-harvest}: see {@link SparkHarvestBenchmark}. */
@Command(
        name = "spark-harvest",
        mixinStandardHelpOptions = true,
        description = {
            "The same harvest in one process, on Spark local[N] and on a local standalone cluster (equal cores).",
            "Tokens/s of each, Spark's overhead (goal <= 15%%), identity of the stores, a projection to 8-64 executors."
        })
public final class BenchSparkHarvestCommand implements Callable<Integer> {
    @Option(
            names = "--out",
            paramLabel = "DIR",
            description = "where to write (default: a temporary folder, deleted after)")
    Path out;

    @Option(
            names = "--model",
            paramLabel = "M",
            defaultValue = "gpt2-small",
            description = "gpt2-small (random weights), a zoo model or a path; default: ${DEFAULT-VALUE}")
    String model;

    @Option(names = "--hook", paramLabel = "H", description = "the hook (default: the middle block's hook_resid_post)")
    String hook;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "8", description = "default: ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--context", paramLabel = "N", defaultValue = "128", description = "default: ${DEFAULT-VALUE}")
    int context;

    @Option(names = "--sequences", paramLabel = "N", defaultValue = "256", description = "default: ${DEFAULT-VALUE}")
    int sequences;

    @Option(
            names = "--shard-sequences",
            paramLabel = "N",
            defaultValue = "32",
            description = "sequences per shard, one Spark task each; default: ${DEFAULT-VALUE}")
    int shardSequences;

    @Option(
            names = "--cores",
            paramLabel = "N",
            defaultValue = "2",
            description = "cores for each; default: ${DEFAULT-VALUE}")
    int cores;

    @Option(
            names = "--rounds",
            paramLabel = "N",
            defaultValue = "2",
            description = "alternated rounds; default: ${DEFAULT-VALUE}")
    int rounds;

    @Option(names = "--no-cluster", description = "skip the standalone cluster")
    boolean noCluster;

    @Option(
            names = "--executor-memory",
            paramLabel = "SIZE",
            defaultValue = "1g",
            description = "the cluster's executors' heap; default: ${DEFAULT-VALUE}")
    String executorMemory;

    @Override
    public Integer call() {
        SparkHarvestBenchmark.run(new SparkHarvestBenchmark.Settings(
                out,
                model,
                hook,
                batch,
                context,
                sequences,
                shardSequences,
                cores,
                rounds,
                !noCluster,
                executorMemory));
        return 0;
    }
}
