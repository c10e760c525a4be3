package dev.loupe.notebooks.launch;

import dev.loupe.engine.LoupeException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code ./loupe lab}: installs what Jupyter needs when it is missing (Debian packages), writes the
 * Loupe kernelspec into the repository, and starts the classic Jupyter Notebook on localhost with
 * its token authentication on, in the {@code notebooks/} folder.
 */
public final class JupyterLauncher {

    /** Debian packages and how to tell that each is installed. */
    private static final Map<String, List<String>> PACKAGES = new LinkedHashMap<>();

    static {
        PACKAGES.put("jupyter-notebook", List.of("jupyter", "notebook", "--version"));
        PACKAGES.put("jupyter-nbconvert", List.of("jupyter", "nbconvert", "--version"));
        // Debian's jupyter runs on /usr/bin/python3, which may not be the python3 first on PATH.
        String python = java.nio.file.Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        PACKAGES.put("python3-nbclient", List.of(python, "-c", "import nbclient"));
    }

    private final Path repo;

    public JupyterLauncher(Path repo) {
        this.repo = repo.toAbsolutePath().normalize();
    }

    /** Where {@code ./loupe lab} writes the kernelspec; JUPYTER_PATH points here. */
    public Path jupyterPath() {
        return repo.resolve("notebooks").resolve("target").resolve("jupyter");
    }

    /** The environment every Loupe kernel gets (what the launcher exports for the CLI). */
    public static Map<String, String> kernelEnv() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("OMP_WAIT_POLICY", "PASSIVE");
        env.put("MALLOC_MMAP_THRESHOLD_", "33554432");
        env.put("MALLOC_TRIM_THRESHOLD_", "4294967296");
        return env;
    }

    public KernelSpec kernelSpec() {
        return KernelSpec.viaLauncher(repo, kernelEnv());
    }

    /** Missing Debian packages, by checking for what each provides. */
    public static List<String> missingPackages() {
        List<String> missing = new ArrayList<>();
        PACKAGES.forEach((pkg, probe) -> {
            if (!succeeds(probe)) missing.add(pkg);
        });
        return missing;
    }

    /** Installs the missing packages with apt-get (as root, or through sudo); says what to run otherwise. */
    public static void installMissing() {
        List<String> missing = missingPackages();
        if (missing.isEmpty()) return;
        String manual = "sudo apt-get install -y " + String.join(" ", missing);
        System.err.println("loupe: installing " + String.join(", ", missing) + " (Debian packages)...");
        boolean root = "root".equals(System.getProperty("user.name"));
        List<String> prefix = root ? List.of() : List.of("sudo", "-n");
        List<String> update = new ArrayList<>(prefix);
        update.addAll(List.of("apt-get", "update", "-qq"));
        List<String> install = new ArrayList<>(prefix);
        install.addAll(List.of("apt-get", "install", "-y", "-qq"));
        install.addAll(missing);
        if (!(run(update) && run(install))) {
            throw new LoupeException(
                    "could not install " + String.join(", ", missing) + "; install them with: " + manual);
        }
        List<String> still = missingPackages();
        if (!still.isEmpty()) throw new LoupeException("still missing after apt-get: " + still + "; try: " + manual);
    }

    /** Installs missing packages, writes the kernelspec and runs Jupyter until it exits; returns its exit status. */
    public int launch(int port, boolean openBrowser) throws IOException, InterruptedException {
        installMissing();
        Path dir = kernelSpec().writeTo(jupyterPath());
        System.err.println("loupe: kernel \"" + KernelSpec.DISPLAY_NAME + "\" written to " + dir);
        List<String> cmd = new ArrayList<>(List.of(
                "jupyter",
                "notebook",
                "--ip=127.0.0.1", // localhost only; Jupyter's token authentication stays on (its default)
                "--port=" + port,
                "--notebook-dir=" + repo.resolve("notebooks")));
        if (!openBrowser) cmd.add("--no-browser");
        // Jupyter refuses root (common in containers) unless told; token authentication is unaffected.
        if ("root".equals(System.getProperty("user.name"))) cmd.add("--allow-root");
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        String existing = System.getenv("JUPYTER_PATH");
        pb.environment()
                .put(
                        "JUPYTER_PATH",
                        jupyterPath() + (existing == null || existing.isBlank() ? "" : File.pathSeparator + existing));
        pb.environment().putAll(kernelEnv());
        Process p = pb.start();
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
        return p.waitFor();
    }

    /** {@code jupyter kernelspec install --user}: the kernel for every Jupyter of this user. */
    public void installForUser() throws IOException, InterruptedException {
        Path dir = kernelSpec().writeTo(jupyterPath());
        List<String> cmd = List.of(
                "jupyter", "kernelspec", "install", "--user", "--replace", "--name", KernelSpec.NAME, dir.toString());
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new LoupeException(
                    "'" + String.join(" ", cmd) + "' failed; is jupyter installed? (./loupe lab installs it)");
        }
    }

    private static boolean succeeds(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static boolean run(List<String> cmd) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
            pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
            return pb.start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
