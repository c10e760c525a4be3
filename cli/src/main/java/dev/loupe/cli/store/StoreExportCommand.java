package dev.loupe.cli.store;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.export.NpyExport;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./loupe store export DIR --out OUT}: numpy files of a store. */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = "Writes <hook>.npy [rows, d] and tokens/sequence/position.npy into --out.")
public final class StoreExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "the store folder")
    Path dir;

    @Option(names = "--out", required = true, paramLabel = "OUT", description = "the folder to write")
    Path out;

    @Option(names = "--hooks", paramLabel = "h1,h2", description = "the hooks to export (default: all)")
    String hooks;

    @Override
    public Integer call() {
        try (ActivationStore s = ActivationStore.open(dir)) {
            List<String> names = hooks == null
                    ? s.hooks()
                    : Arrays.stream(hooks.split(",")).map(String::trim).toList();
            for (String h : names) s.d(h);
            try (ProgressBar bar = ProgressBar.onStderr("export", 0, s.rows() * names.size(), "rows")) {
                List<Path> files = NpyExport.export(s, out, names, bar);
                bar.close();
                files.forEach(f -> System.out.println("wrote " + f));
            }
        }
        return 0;
    }
}
