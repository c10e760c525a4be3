package dev.loupe.notebooks;

import dev.loupe.notebooks.launch.JupyterLauncher;
import dev.loupe.notebooks.launch.KernelSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Jupyter and Chromium for the tests: present, or the test is skipped — except in CI
 * ({@code CI=true}), where .ci/run installs them and a missing one fails the build.
 */
final class JupyterTools {

    static final Path MODULE = Path.of("").toAbsolutePath();
    static final Path REPO = MODULE.getParent();

    private JupyterTools() {}

    static void require(boolean available, String what) {
        if ("true".equals(System.getenv("CI"))) {
            Assertions.assertTrue(available, what + " is missing; .ci/run installs it");
        } else {
            Assumptions.assumeTrue(
                    available,
                    what + " not installed (apt-get install jupyter-notebook"
                            + " jupyter-nbconvert python3-nbclient chromium); skipping outside CI");
        }
    }

    static void requireJupyter() {
        require(JupyterLauncher.missingPackages().isEmpty(), "jupyter (notebook, nbconvert, nbclient)");
    }

    static String chromium() {
        for (String c : List.of("chromium", "chromium-browser", "google-chrome")) {
            if (run(List.of("sh", "-c", "command -v " + c), Map.of(), 30).exitCode() == 0) return c;
        }
        return null;
    }

    /** A JUPYTER_PATH folder with the Loupe kernelspec running this build's classes directly. */
    static Path kernelSpecDir(Path parent, Map<String, String> extraEnv) throws IOException {
        Path classpathFile = MODULE.resolve("target/kernel-classpath.txt");
        Assertions.assertTrue(
                Files.exists(classpathFile), classpathFile + " missing: the build writes it at process-classes");
        String cp = MODULE.resolve("target/classes")
                + java.io.File.pathSeparator
                + Files.readString(classpathFile).trim();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Map<String, String> env = new java.util.LinkedHashMap<>(JupyterLauncher.kernelEnv());
        env.put("OMP_NUM_THREADS", "1");
        env.putAll(extraEnv);
        KernelSpec spec = KernelSpec.direct(
                java,
                cp,
                List.of("-Xmx2g", "-Dorg.bytedeco.javacpp.maxbytes=4G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=8G"),
                env);
        Path dir = parent.resolve("jupyter");
        spec.writeTo(dir);
        return dir;
    }

    record Result(int exitCode, String output) {}

    static Result run(List<String> cmd, Map<String, String> env, long timeoutSeconds) {
        try {
            Path log = Files.createTempFile("loupe-cmd", ".log");
            ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(cmd))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                return new Result(
                        124, "timed out after " + timeoutSeconds + " s: " + cmd + "\n" + Files.readString(log));
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            Files.deleteIfExists(log);
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            return new Result(127, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(130, e.toString());
        }
    }
}
