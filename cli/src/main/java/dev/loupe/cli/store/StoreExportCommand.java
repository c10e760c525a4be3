package dev.loupe.cli.store;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.export.ExportFormat;
import dev.loupe.store.export.ExportOptions;
import dev.loupe.store.export.ExportResult;
import dev.loupe.store.export.StoreExport;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./loupe store export DIR --format npy|saelens|parquet --out OUT}: see {@link StoreExport}. */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = {
            "Exports a complete store for Python into a new folder --out, all at once or not at all.",
            "npy: <hook>.npy [rows, d] + tokens/sequence/position.npy (numpy). saelens: a Hugging Face datasets"
                    + " folder (save_to_disk) as SAELens's CacheActivationsRunner writes it, for"
                    + " cached_activations_path. parquet: fixed-size list columns per hook + token_ids, sequence,"
                    + " position (pyarrow, pandas, polars, DuckDB, datasets). Activations are float32 (bf16 always;"
                    + " f16 unless --keep-dtype)."
        })
public final class StoreExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "the store folder")
    Path dir;

    @Option(names = "--out", required = true, paramLabel = "OUT", description = "the folder to write (new or empty)")
    Path out;

    @Option(
            names = "--format",
            paramLabel = "FORMAT",
            defaultValue = "npy",
            description = "npy, saelens or parquet; default: ${DEFAULT-VALUE}")
    String format;

    @Option(
            names = "--hooks",
            split = ",",
            paramLabel = "h1,h2",
            description = "the hooks to export, in order (default: all)")
    List<String> hooks = List.of();

    @Option(
            names = "--rows",
            paramLabel = "ROWS",
            defaultValue = "sequences",
            description = "parquet: a row per sequence or per token (sequences, tokens); default: ${DEFAULT-VALUE}")
    String rows;

    @Option(names = "--keep-dtype", description = "an f16 store stays float16 (bf16 has no Arrow/numpy type: float32)")
    boolean keepDType;

    @Option(
            names = "--shard-mb",
            paramLabel = "MB",
            defaultValue = "500",
            description =
                    "saelens, parquet: files of at most this many MB (whole sequences); default: ${DEFAULT-VALUE}")
    double shardMb;

    @Override
    public Integer call() {
        ExportFormat f = ExportFormat.parse(format);
        ExportOptions options = ExportOptions.defaults()
                .withHooks(hooks.stream()
                        .map(String::trim)
                        .filter(h -> !h.isEmpty())
                        .toList())
                .withRows(ExportOptions.Rows.parse(rows))
                .withKeepDType(keepDType)
                .withShardBytes((long) (shardMb * 1e6));
        try (ActivationStore s = ActivationStore.open(dir)) {
            ExportResult r = StoreExport.export(
                    s, out, f, options, total -> ProgressBar.onStderr("export " + f.label(), 0, total, "bytes"));
            r.notes().forEach(n -> System.out.println("note: " + n));
            r.files().forEach(p -> System.out.println("wrote " + p));
            System.out.printf(
                    Locale.ROOT,
                    "%s: %s export, %d files, %.1f MB (%s) in %.1f s%n",
                    r.out(),
                    f.label(),
                    r.files().size(),
                    r.bytes() / 1e6,
                    r.dtype(),
                    r.seconds());
        }
        return 0;
    }
}
