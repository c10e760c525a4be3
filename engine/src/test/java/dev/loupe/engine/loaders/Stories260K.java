package dev.loupe.engine.loaders;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.io.NpyReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Assumptions;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The reference data for Karpathy's stories260K (a real trained llama2.c model) in the shared
 * folder next to the repository: the checkpoint, and the logits and greedy tokens llama2.c's own
 * {@code run.c} computes. Tests that use it call {@link #assumeAvailable()} and are skipped when the
 * folder is absent (e.g. on a user's machine). {@code -Dloupe.shared=DIR} points elsewhere.
 */
public final class Stories260K {
    private Stories260K() {}

    /** The shared folder: {@code -Dloupe.shared}, else {@code <repo root>/../shared}; null when absent. */
    public static Path sharedDir() {
        Path shared = dev.loupe.engine.SharedData.root();
        return shared != null && Files.isDirectory(shared) ? shared.normalize() : null;
    }

    /** Skips the calling test, with a message saying what is missing, unless the data is present. */
    public static void assumeAvailable() {
        Path shared = sharedDir();
        Assumptions.assumeTrue(
                shared != null, "reference data folder ../shared is absent: skipping stories260K fidelity test");
        for (Path p : new Path[] {bin(), referenceJson(), logitsFile()})
            Assumptions.assumeTrue(Files.isRegularFile(p), p + " is absent: skipping stories260K fidelity test");
    }

    public static Path bin() {
        return sharedDir().resolve("models/stories260K/stories260K.bin");
    }

    public static Path referenceJson() {
        return sharedDir().resolve("golden/stories260K.reference.json");
    }

    public static Path logitsFile() {
        return sharedDir().resolve("golden/stories260K.logits.npy");
    }

    /** [64, 512] float32: logits[p] are run.c's next-token logits after input_tokens[0..p]. */
    public static INDArray logits() {
        return NpyReader.read(logitsFile());
    }

    public static JsonNode reference() {
        try {
            return new ObjectMapper().readTree(referenceJson().toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] inputTokens() {
        return ints(reference().get("input_tokens"));
    }

    public static int[] greedyFromBos() {
        return ints(reference().get("greedy_continuation_from_bos"));
    }

    private static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false)
                .mapToInt(JsonNode::asInt)
                .toArray();
    }
}
