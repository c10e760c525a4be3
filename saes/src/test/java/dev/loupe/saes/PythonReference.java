package dev.loupe.saes;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs {@code saelens_reference.py} (the PyTorch re-implementation of SAELens's SAEs) with Debian's python3-torch. */
public final class PythonReference {
    public static final String PYTHON = System.getenv().getOrDefault("LOUPE_PYTHON", "/usr/bin/python3");

    private PythonReference() {}

    /** True when {@link #PYTHON} imports torch and numpy. */
    public static boolean available() {
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch, numpy")
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Runs the script with {@code args}; returns its output, failing the test on a non-zero exit. */
    public static String run(Path tmp, String... args) throws Exception {
        Path script = tmp.resolve("saelens_reference.py");
        if (!Files.exists(script))
            try (InputStream in = PythonReference.class.getResourceAsStream("saelens_reference.py")) {
                Files.write(script, in.readAllBytes());
            }
        List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "saelens_reference.py " + String.join(" ", args) + " failed:\n" + out);
        return out;
    }
}
