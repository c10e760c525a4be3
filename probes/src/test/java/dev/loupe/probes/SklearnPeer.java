package dev.loupe.probes;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs scikit-learn in a Python subprocess (LOUPE_PYTHON, default Debian's /usr/bin/python3 with
 * python3-sklearn) on files the test wrote; tests that need it skip when it is missing.
 */
final class SklearnPeer {
    static final String PYTHON = System.getenv().getOrDefault("LOUPE_PYTHON", "/usr/bin/python3");
    private static Boolean available;

    private SklearnPeer() {}

    static synchronized void require() {
        if (available == null) {
            try {
                Process p = new ProcessBuilder(PYTHON, "-c", "import sklearn, numpy")
                        .redirectErrorStream(true)
                        .start();
                p.getInputStream().readAllBytes();
                available = p.waitFor() == 0;
            } catch (Exception e) {
                available = false;
            }
        }
        assumeTrue(available, PYTHON + " with scikit-learn is missing (apt-get install python3-sklearn); skipping");
    }

    /** Runs {@code script} with {@code args}; returns its last output line as JSON. */
    static JsonNode run(Path dir, String script, String... args) throws Exception {
        require();
        Path py = dir.resolve("peer.py");
        Files.writeString(py, script);
        List<String> cmd = new ArrayList<>(List.of(PYTHON, py.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        if (rc != 0) throw new AssertionError("scikit-learn peer failed (exit " + rc + "):\n" + out);
        String last = out.strip().lines().reduce((a, b) -> b).orElse("{}");
        return new ObjectMapper().readTree(last);
    }
}
