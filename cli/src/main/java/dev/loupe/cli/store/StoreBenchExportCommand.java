package dev.loupe.cli.store;

import dev.loupe.bench.ExportBenchmark;
import dev.loupe.store.StoreDType;
import dev.loupe.store.export.ExportFormat;
import dev.loupe.store.export.ExportOptions;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe store bench-export --format saelens|parquet}: see {@link ExportBenchmark}. */
@Command(
        name = "bench-export",
        mixinStandardHelpOptions = true,
        description = {
            "Measures an export against the .npy export of the same store, in the same run.",
            "MB/s of store bytes (goal: >= 0.7 of npy's) and the exporting JVM's peak anonymous memory,"
                    + " each export in a JVM whose heap is capped near one file's size."
        })
public final class StoreBenchExportCommand implements Callable<Integer> {
    @Option(names = "--format", required = true, paramLabel = "FORMAT", description = "saelens or parquet")
    String format;

    @Option(
            names = "--out",
            paramLabel = "DIR",
            description = "where to write (default: a new temporary folder, deleted after)")
    Path out;

    @Option(
            names = "--store-gb",
            paramLabel = "GB",
            defaultValue = "2",
            description = "size of the synthetic store's activations; default: ${DEFAULT-VALUE}")
    double storeGb;

    @Option(names = "--d", paramLabel = "D", defaultValue = "768", description = "row width; default: ${DEFAULT-VALUE}")
    int d;

    @Option(names = "--context", paramLabel = "N", defaultValue = "128", description = "default: ${DEFAULT-VALUE}")
    int context;

    @Option(
            names = "--dtype",
            paramLabel = "TYPE",
            defaultValue = "f32",
            description = "the store's dtype: f32, f16 or bf16; default: ${DEFAULT-VALUE}")
    String dtype;

    @Option(
            names = "--rows",
            paramLabel = "ROWS",
            defaultValue = "sequences",
            description = "parquet rows: sequences or tokens; default: ${DEFAULT-VALUE}")
    String rows;

    @Option(
            names = "--rounds",
            paramLabel = "N",
            defaultValue = "2",
            description = "alternated npy/format exports; default: ${DEFAULT-VALUE}")
    int rounds;

    @Option(
            names = "--heap-mb",
            paramLabel = "MB",
            defaultValue = "512",
            description = "the exporting JVMs' -Xmx; default: ${DEFAULT-VALUE}")
    int heapMb;

    @Override
    public Integer call() {
        ExportBenchmark.run(
                new ExportBenchmark.Settings(
                        ExportFormat.parse(format),
                        out,
                        storeGb,
                        d,
                        context,
                        StoreDType.parse(dtype),
                        ExportOptions.Rows.parse(rows),
                        rounds,
                        heapMb),
                System.out);
        return 0;
    }
}
