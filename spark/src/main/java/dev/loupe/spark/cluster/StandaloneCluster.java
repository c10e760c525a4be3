package dev.loupe.spark.cluster;

import dev.loupe.engine.LoupeException;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.launcher.JavaModuleOptions;

/**
 * A Spark standalone cluster on this machine, on the loopback interface only: a master and workers,
 * each its own JVM started from a Spark installation's jars (a folder {@code spark-home/jars} of links
 * to them, which is what a worker puts on its executors' classpath). Executors get Loupe's classes
 * from the application ({@code spark.jars}), as on a real cluster. For the tests and the benchmark;
 * a real cluster is started with Spark's own scripts (see docs/scale-out.md).
 */
public final class StandaloneCluster implements AutoCloseable {
    private static final String LOOPBACK = "127.0.0.1";
    private final Path dir;
    private final String masterUrl;
    private final Process master;
    private final List<Process> workers = new ArrayList<>();

    private StandaloneCluster(Path dir, String masterUrl, Process master) {
        this.dir = dir;
        this.masterUrl = masterUrl;
        this.master = master;
    }

    /**
     * Starts a master and {@code workers} workers, each offering {@code cores} cores and {@code memory}
     * (e.g. "1g") to executors, in folder {@code dir} (installation links, work folders, logs).
     * @param sparkJars the jars of a Spark installation (Spark and what it needs)
     */
    public static StandaloneCluster start(Path dir, List<Path> sparkJars, int workers, int cores, String memory) {
        try {
            Path home = dir.resolve("spark-home");
            Path jars = Files.createDirectories(home.resolve("jars"));
            Files.createDirectories(home.resolve("conf"));
            Files.createDirectories(dir.resolve("logs"));
            for (Path jar : sparkJars) {
                Path link = jars.resolve(jar.getFileName());
                if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    Files.createSymbolicLink(link, jar.toAbsolutePath());
            }
            int port = freePort();
            String url = "spark://" + LOOPBACK + ":" + port;
            Process master = launch(
                    dir,
                    "master",
                    "org.apache.spark.deploy.master.Master",
                    List.of("--host", LOOPBACK, "--port", Integer.toString(port), "--webui-port", "0"));
            StandaloneCluster c = new StandaloneCluster(dir, url, master);
            try {
                c.awaitPort(port, master, "master");
                for (int i = 0; i < workers; i++) {
                    Path work = Files.createDirectories(dir.resolve("work-" + i));
                    c.workers.add(launch(
                            dir,
                            "worker-" + i,
                            "org.apache.spark.deploy.worker.Worker",
                            List.of(
                                    "--host",
                                    LOOPBACK,
                                    "--port",
                                    "0",
                                    "--webui-port",
                                    "0",
                                    "--cores",
                                    Integer.toString(cores),
                                    "--memory",
                                    memory,
                                    "--work-dir",
                                    work.toString(),
                                    url)));
                }
            } catch (RuntimeException e) {
                c.close();
                throw e;
            }
            return c;
        } catch (IOException e) {
            throw new LoupeException("standalone cluster in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static Process launch(Path dir, String name, String mainClass, List<String> args) throws IOException {
        Path home = dir.resolve("spark-home");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx192m");
        // what Spark's own scripts give its JVMs on Java 17
        cmd.addAll(List.of(JavaModuleOptions.defaultModuleOptions().split(" ")));
        cmd.add("-cp");
        cmd.add(home.resolve("jars") + File.separator + "*");
        cmd.add(mainClass);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("logs").resolve(name + ".log").toFile());
        Map<String, String> env = pb.environment();
        env.put("SPARK_HOME", home.toString());
        env.put("SPARK_SCALA_VERSION", "2.13");
        env.put("SPARK_LOCAL_IP", LOOPBACK);
        env.put(
                "SPARK_LOCAL_DIRS",
                Files.createDirectories(dir.resolve("local")).toString());
        return pb.start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(LOOPBACK))) {
            return s.getLocalPort();
        }
    }

    private void awaitPort(int port, Process p, String name) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive())
                throw new LoupeException("the Spark " + name + " exited (status " + p.exitValue() + "); see "
                        + dir.resolve("logs").resolve(name + ".log"));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(LOOPBACK, port), 200);
                return;
            } catch (IOException e) {
                sleep(200);
            }
        }
        throw new LoupeException("the Spark " + name + " did not open port " + port + " within 120 s");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The master's URL, {@code spark://127.0.0.1:PORT}. */
    public String masterUrl() {
        return masterUrl;
    }

    public int workers() {
        return workers.size();
    }

    /** Where a worker's logs and its executors' work folders are. */
    public Path folder() {
        return dir;
    }

    /** Kills worker {@code i} and the executors it started at once (kill -9), as a machine dying would. */
    public void killWorker(int i) {
        Process w = workers.get(i);
        w.descendants().forEach(ProcessHandle::destroyForcibly);
        w.destroyForcibly();
        try {
            w.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops every process of the cluster (and the executors still running). */
    @Override
    public void close() {
        for (int i = 0; i < workers.size(); i++) killWorker(i);
        master.descendants().forEach(ProcessHandle::destroyForcibly);
        master.destroyForcibly();
        try {
            master.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
