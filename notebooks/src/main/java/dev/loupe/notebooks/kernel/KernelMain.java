package dev.loupe.notebooks.kernel;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;

/**
 * Runs the Loupe kernel on one Jupyter connection. {@code ./loupe kernel CONNECTION_FILE} calls
 * {@link #runKernel}; {@link #main} is the same for a JVM started on this module's classpath alone
 * (the notebook tests run before the command line's jar exists).
 */
public final class KernelMain {

    private KernelMain() {}

    /** {@code java -cp ... KernelMain CONNECTION_FILE}. */
    public static void main(String[] args) {
        quietLogging();
        try {
            if (args.length != 1)
                throw new LoupeException("kernel: expected the connection file, got " + args.length + " arguments");
            runKernel(Path.of(args[0]));
            System.exit(0);
        } catch (LoupeException e) {
            System.err.println("loupe: " + e.getMessage());
            System.exit(2);
        } catch (IOException e) {
            System.err.println("loupe: " + e.getMessage());
            System.exit(1);
        }
    }

    /**
     * The JJava base library logs through SLF4J (slf4j-simple): warnings only, to the kernel's stderr
     * (Jupyter's log). Call before anything logs.
     */
    public static void quietLogging() {
        System.setProperty(
                "org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
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
