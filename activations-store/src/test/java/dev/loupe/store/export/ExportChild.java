package dev.loupe.store.export;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.read.ActivationStore;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * An export in a child JVM, for tests that kill it or fill its disk: {@code STORE OUT FORMAT [PAUSE_MS]}.
 * Prints {@code writing} at each progress update (after pausing {@code PAUSE_MS}: a slow export to
 * kill), and on bad input {@code loupe: message} with exit status 2, as the command line does.
 */
public final class ExportChild {
    private ExportChild() {}

    public static void main(String[] args) {
        long pause = args.length > 3 ? Long.parseLong(args[3]) : 0;
        try (ActivationStore s = ActivationStore.open(Path.of(args[0]))) {
            ExportResult r = StoreExport.export(
                    s,
                    Path.of(args[1]),
                    ExportFormat.parse(args[2]),
                    ExportOptions.defaults(),
                    new ExportPlan.Buffers(8_192, 20_480, 4_096),
                    total -> new ProgressBar(
                            "export",
                            0,
                            total,
                            "bytes",
                            new PrintStream(System.out) {
                                @Override
                                public void print(String line) {
                                    try {
                                        Thread.sleep(pause);
                                    } catch (InterruptedException e) {
                                        Thread.currentThread().interrupt();
                                    }
                                    System.out.println("writing");
                                    System.out.flush();
                                }
                            },
                            System::nanoTime));
            System.out.println("done " + r.files().size() + " files");
        } catch (LoupeException e) {
            System.out.println("loupe: " + e.getMessage());
            System.exit(2);
        }
    }
}
