package dev.loupe.cli.notebooks;

import dev.loupe.engine.LoupeException;
import dev.loupe.notebooks.kernel.KernelMain;
import dev.loupe.notebooks.launch.JupyterLauncher;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./loupe kernel}: runs the Loupe kernel (what Jupyter calls), or installs its kernelspec. */
@Command(
        name = "kernel",
        mixinStandardHelpOptions = true,
        description = {
            "Runs the Loupe Jupyter kernel (Jupyter calls this), or installs its kernelspec.",
            "CONNECTION_FILE: serve that Jupyter connection; --install-user: install the kernelspec for this user's",
            "Jupyter; --spec DIR: write it under DIR/kernels/loupe (for JUPYTER_PATH)."
        })
public final class KernelCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "CONNECTION_FILE", description = "Jupyter's connection file")
    Path connectionFile;

    @Option(names = "--install-user", description = "install the \"Loupe (Java)\" kernelspec for this user's Jupyter")
    boolean installUser;

    @Option(names = "--spec", paramLabel = "DIR", description = "write the kernelspec under DIR/kernels/loupe")
    Path spec;

    @Override
    public Integer call() throws Exception {
        int given = (connectionFile != null ? 1 : 0) + (installUser ? 1 : 0) + (spec != null ? 1 : 0);
        if (given != 1)
            throw new LoupeException("kernel: expected one of CONNECTION_FILE, --install-user or --spec DIR");
        JupyterLauncher launcher = new JupyterLauncher(Repository.root());
        if (spec != null) System.out.println(launcher.kernelSpec().writeTo(spec));
        else if (installUser) launcher.installForUser();
        else KernelMain.runKernel(connectionFile);
        return 0;
    }
}
