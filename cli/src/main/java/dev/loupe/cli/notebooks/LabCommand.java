package dev.loupe.cli.notebooks;

import dev.loupe.notebooks.launch.JupyterLauncher;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe lab}: Jupyter with the Loupe kernel, on localhost, in {@code notebooks/}. */
@Command(
        name = "lab",
        mixinStandardHelpOptions = true,
        description = {
            "Starts Jupyter on localhost with the Loupe kernel, in notebooks/.",
            "Installs what is missing first (Debian packages); Jupyter's token authentication stays on."
        })
public final class LabCommand implements Callable<Integer> {
    @Option(names = "--port", paramLabel = "N", defaultValue = "8888", description = "default: ${DEFAULT-VALUE}")
    int port;

    @Option(names = "--no-browser", description = "do not open a browser")
    boolean noBrowser;

    @Override
    public Integer call() throws Exception {
        return new JupyterLauncher(Repository.root()).launch(port, !noBrowser);
    }
}
