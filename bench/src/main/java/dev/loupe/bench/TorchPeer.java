package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs a PyTorch peer script (Debian python3-torch) shipped as a resource; its last output line is JSON. */
final class TorchPeer {
    private TorchPeer() {}

    /** Runs {@code /dev/loupe/bench/<script>} with {@code args} and returns its last line, parsed. */
    static JsonNode run(String script, List<String> args) {
        Path file;
        try (InputStream in = TorchPeer.class.getResourceAsStream("/dev/loupe/bench/" + script)) {
            file = Files.createTempFile("loupe-" + script.replace(".py", ""), ".py");
            Files.write(file, in.readAllBytes());
        } catch (IOException | NullPointerException e) {
            throw new LoupeException("bench: cannot extract the PyTorch peer script " + script + ": " + e.getMessage());
        }
        warnIfReferenceBlas();
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", file.toString()));
        cmd.addAll(args);
        System.err.println("running the PyTorch peer...");
        try {
            Process p = new ProcessBuilder(cmd)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            int rc = p.waitFor();
            Files.deleteIfExists(file);
            if (rc != 0)
                throw new LoupeException("bench: the PyTorch peer failed (exit " + rc
                        + "); is Debian's python3-torch installed? (apt-get install python3-torch)");
            return new ObjectMapper().readTree(out.lines().reduce((x, y) -> y).orElse("{}"));
        } catch (IOException e) {
            throw new LoupeException("bench: cannot run /usr/bin/python3 for the PyTorch peer: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("bench: interrupted");
        }
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
