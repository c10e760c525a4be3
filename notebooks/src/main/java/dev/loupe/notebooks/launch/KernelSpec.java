package dev.loupe.notebooks.launch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The "Loupe (Java)" kernelspec, {@code kernels/loupe/kernel.json}: the command that starts the
 * kernel ({@code {connection_file}} is replaced by Jupyter) and its environment.
 *
 * @param command the kernel's command line before "{connection_file}"
 * @param env     environment for the kernel (timeouts, thread settings)
 */
public record KernelSpec(List<String> command, Map<String, String> env) {

    /**
     * Through the repository's launcher: {@code <repo>/loupe kernel {connection_file}}. The launcher
     * rebuilds the notebooks module when its jar is missing or older than the sources, and says what
     * to run when that fails; otherwise it adds a few milliseconds to java.
     */
    public static KernelSpec viaLauncher(Path repo, Map<String, String> env) {
        return new KernelSpec(
                List.of(repo.toAbsolutePath().normalize().resolve("loupe").toString(), "kernel"), env);
    }

    /** java directly on a classpath (the tests, which run before the jar exists). */
    public static KernelSpec direct(String java, String classpath, List<String> jvmArgs, Map<String, String> env) {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", classpath, "dev.loupe.notebooks.kernel.KernelMain"));
        return new KernelSpec(cmd, env);
    }

    public static final String NAME = "loupe";
    public static final String DISPLAY_NAME = "Loupe (Java)";

    /** The kernel.json for this spec. */
    public String json() {
        ObjectMapper m = Json.mapper();
        ObjectNode spec = m.createObjectNode();
        ArrayNode argv = spec.putArray("argv");
        command.forEach(argv::add);
        argv.add("{connection_file}");
        spec.put("display_name", DISPLAY_NAME);
        spec.put("language", "java");
        // Interrupts arrive as messages on the control channel: the kernel stops the cell's thread.
        spec.put("interrupt_mode", "message");
        ObjectNode e = spec.putObject("env");
        env.forEach(e::put);
        try {
            return m.writerWithDefaultPrettyPrinter().writeValueAsString(spec) + "\n";
        } catch (IOException ex) {
            throw new LoupeException("cannot write kernel.json: " + ex.getMessage(), ex);
        }
    }

    /**
     * Writes {@code <jupyterDir>/kernels/loupe/kernel.json} (jupyterDir is what JUPYTER_PATH names)
     * and returns the kernel folder.
     */
    public Path writeTo(Path jupyterDir) {
        Path dir = jupyterDir.resolve("kernels").resolve(NAME);
        try {
            Files.createDirectories(dir);
            byte[] bytes = json().getBytes(StandardCharsets.UTF_8);
            AtomicFileWriter.write(dir.resolve("kernel.json"), ch -> ch.write(java.nio.ByteBuffer.wrap(bytes)));
        } catch (IOException e) {
            throw new LoupeException("cannot write the kernelspec into " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }
}
