package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.model.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a Python peer script shipped as a resource (PyTorch; scikit-learn for the probe benchmark); its last
 * output line is JSON. The Python is {@code --python PATH} where a benchmark takes it, else
 * {@code $LOUPE_PYTHON}, else {@code /usr/bin/python3} (Debian's python3-torch).
 */
public final class TorchPeer {
    public static final String DEFAULT_PYTHON = "/usr/bin/python3";

    private TorchPeer() {}

    /** The Python to run peers with: {@code explicit} when given, else $LOUPE_PYTHON, else /usr/bin/python3. */
    public static String python(String explicit) {
        if (explicit != null && !explicit.isBlank()) return explicit;
        String env = System.getenv("LOUPE_PYTHON");
        return env != null && !env.isBlank() ? env : DEFAULT_PYTHON;
    }

    /** Runs {@code /dev/loupe/bench/<script>} with {@code args} under the default Python (see {@link #python}). */
    static JsonNode run(String script, List<String> args) {
        return run(python(null), script, args);
    }

    /** Runs {@code /dev/loupe/bench/<script>} with {@code args} under {@code python}; returns its last line, parsed. */
    static JsonNode run(String python, String script, List<String> args) {
        return run(
                python,
                script,
                args,
                "PyTorch",
                "torch (Debian: apt-get install python3-torch; or --python PATH / LOUPE_PYTHON)");
    }

    /**
     * Runs {@code script} with the Python at {@code python}; {@code peer} names the peer in messages and
     * {@code needs} says what the Python must have.
     */
    static JsonNode run(String python, String script, List<String> args, String peer, String needs) {
        Path file;
        try (InputStream in = TorchPeer.class.getResourceAsStream("/dev/loupe/bench/" + script)) {
            file = Files.createTempFile("loupe-" + script.replace(".py", ""), ".py");
            Files.write(file, in.readAllBytes());
        } catch (IOException | NullPointerException e) {
            throw new LoupeException(
                    "bench: cannot extract the " + peer + " peer script " + script + ": " + e.getMessage());
        }
        if (python.equals(DEFAULT_PYTHON)) warnIfReferenceBlas(); // Debian's torch uses the system BLAS
        List<String> cmd = new ArrayList<>(List.of(python, file.toString()));
        cmd.addAll(args);
        System.err.println("running the " + peer + " peer (" + python + ")...");
        try {
            Process p = new ProcessBuilder(cmd)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            int rc = p.waitFor();
            Files.deleteIfExists(file);
            if (rc != 0)
                throw new LoupeException("bench: the " + peer + " peer failed (exit " + rc + "); does " + python
                        + " have " + needs + "?");
            return Json.mapper().readTree(out.lines().reduce((x, y) -> y).orElse("{}"));
        } catch (IOException e) {
            throw new LoupeException("bench: cannot run " + python + " for the " + peer + " peer: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("bench: interrupted");
        }
    }

    /** The architecture keys both peer scripts read from {@code --config} (d_model, ..., eps), in a map to add to. */
    static Map<String, Object> architecture(ModelConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("d_model", c.dModel());
        m.put("n_layers", c.nLayers());
        m.put("n_heads", c.nHeads());
        m.put("d_head", c.dHead());
        m.put("d_mlp", c.dMlp());
        m.put("d_vocab", c.dVocab());
        m.put("n_ctx", c.nCtx());
        m.put("eps", c.normEps());
        return m;
    }

    /** Debian's torch calls whatever libblas.so.3 points at; the reference BLAS is ~50x slower than OpenBLAS. */
    private static void warnIfReferenceBlas() {
        try {
            Path blas = Path.of("/usr/lib/x86_64-linux-gnu/libblas.so.3").toRealPath();
            if (!blas.toString().contains("openblas")
                    && !blas.toString().contains("blis")
                    && !blas.toString().contains("mkl"))
                System.err.println("warning: libblas.so.3 is " + blas + " (reference BLAS): PyTorch will be very slow. "
                        + "Install libopenblas0-pthread for a fair comparison.");
        } catch (IOException ignored) {
            // no system BLAS link: nothing to say
        }
    }
}
