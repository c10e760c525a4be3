package dev.loupe.notebooks;

import dev.loupe.engine.LoupeException;
import dev.loupe.notebooks.kernel.KernelSettings;
import dev.loupe.notebooks.kernel.LoupeKernel;
import dev.loupe.notebooks.launch.JupyterLauncher;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;

/**
 * {@code ./loupe lab|kernel}: starts Jupyter with the Loupe kernel, runs the kernel itself (what the
 * kernelspec calls), or installs the kernelspec for the user.
 */
public final class NotebooksMain {

    private static final String USAGE =
            """
            usage: ./loupe lab [--port N] [--no-browser]   install what is missing, start Jupyter on localhost (token auth)
                   ./loupe kernel CONNECTION_FILE          run the kernel (Jupyter calls this)
                   ./loupe kernel --install-user           install the "Loupe (Java)" kernelspec for this user's Jupyter
                   ./loupe kernel --spec DIR               write the kernelspec under DIR/kernels/loupe (for JUPYTER_PATH)""";

    private NotebooksMain() {}

    public static void main(String[] args) {
        // The JJava base library logs through SLF4J: warnings only, to the kernel's stderr (Jupyter's log).
        System.setProperty(
                "org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        try {
            System.exit(run(args));
        } catch (LoupeException e) {
            System.err.println("loupe: " + e.getMessage());
            System.exit(2);
        } catch (IOException e) {
            System.err.println("loupe: " + e.getMessage());
            System.exit(1);
        } catch (InterruptedException e) {
            System.exit(130);
        }
    }

    static int run(String[] args) throws IOException, InterruptedException {
        if (args.length == 0) throw new LoupeException("expected lab or kernel\n" + USAGE);
        Path repo = Path.of(System.getProperty("loupe.repo", "")).toAbsolutePath();
        switch (args[0]) {
            case "lab" -> {
                int port = 8888;
                boolean browser = true;
                for (int i = 1; i < args.length; i++) {
                    switch (args[i]) {
                        case "--port" -> {
                            if (i + 1 >= args.length) throw new LoupeException("--port needs a number\n" + USAGE);
                            try {
                                port = Integer.parseInt(args[++i]);
                            } catch (NumberFormatException e) {
                                throw new LoupeException("--port: expected a number, got '" + args[i] + "'");
                            }
                        }
                        case "--no-browser" -> browser = false;
                        default -> throw new LoupeException("unknown option '" + args[i] + "'\n" + USAGE);
                    }
                }
                return new JupyterLauncher(repo).launch(port, browser);
            }
            case "kernel" -> {
                if (args.length == 3 && args[1].equals("--spec")) {
                    Path dir = new JupyterLauncher(repo).kernelSpec().writeTo(Path.of(args[2]));
                    System.out.println(dir);
                    return 0;
                }
                if (args.length != 2 || args[1].equals("--spec"))
                    throw new LoupeException("kernel: expected one argument\n" + USAGE);
                if (args[1].equals("--install-user")) {
                    new JupyterLauncher(repo).installForUser();
                    return 0;
                }
                runKernel(Path.of(args[1]));
                return 0;
            }
            default -> throw new LoupeException("unknown command '" + args[0] + "'\n" + USAGE);
        }
    }

    /** Serves one Jupyter connection until Jupyter shuts the kernel down. */
    public static void runKernel(Path connectionFile) throws IOException {
        String json;
        try {
            json = Files.readString(connectionFile);
        } catch (NoSuchFileException e) {
            throw new LoupeException("kernel: connection file " + connectionFile + " does not exist");
        }
        KernelConnectionProperties props;
        try {
            props = KernelConnectionProperties.parse(json);
        } catch (RuntimeException e) {
            throw new LoupeException(
                    "kernel: " + connectionFile + " is not a Jupyter connection file: " + e.getMessage());
        }
        requireLocal(props, connectionFile);
        KernelSettings settings = KernelSettings.fromEnvironment(System.getenv());
        LoupeKernel kernel = new LoupeKernel(settings);
        JupyterConnection connection;
        try {
            connection = new JupyterConnection(props);
        } catch (java.security.GeneralSecurityException e) {
            throw new LoupeException(
                    "kernel: cannot use the signature scheme of " + connectionFile + ": " + e.getMessage());
        }
        kernel.becomeHandlerForConnection(connection);
        connection.connect();
        kernel.onStartup();
        connection.waitUntilClose();
    }

    /** The kernel's sockets carry code to run: they are bound to the loopback interface only. */
    static void requireLocal(KernelConnectionProperties props, Path connectionFile) throws IOException {
        if ("ipc".equals(props.getTransport())) return;
        String ip = props.getIp();
        if (ip == null || !InetAddress.getByName(ip).isLoopbackAddress()) {
            throw new LoupeException("kernel: " + connectionFile + " asks to listen on " + ip
                    + "; the Loupe kernel listens only on localhost (start Jupyter with --ip=127.0.0.1)");
        }
    }
}
