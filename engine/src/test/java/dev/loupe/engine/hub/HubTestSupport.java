package dev.loupe.engine.hub;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** A small fake model repository and the assertions the hub tests share. */
final class HubTestSupport {

    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    static final String CONFIG = "{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_embd\": 8}";
    static final String TOKENIZER = "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}";

    private HubTestSupport() {}

    /** A safetensors file of about 16 KB (a 64x64 float tensor and a bias), written by Loupe's writer. */
    static byte[] weights(Path scratch, String name, float offset) throws IOException {
        Path file = scratch.resolve(name);
        Files.createDirectories(scratch);
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        tensors.put(
                "wte.weight",
                Nd4j.linspace(DataType.FLOAT, offset, 0.5, 64 * 64).reshape(64, 64));
        tensors.put("ln_f.bias", Nd4j.linspace(DataType.FLOAT, -offset, 0.25, 64));
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        return Files.readAllBytes(file);
    }

    /** {@code org/tiny}: config.json, tokenizer.json and an LFS model.safetensors; no vocab/merges/tokenizer_config. */
    static FakeHub.Repo tinyRepo(Path scratch) throws IOException {
        return new FakeHub.Repo("org/tiny", COMMIT)
                .file("config.json", CONFIG.getBytes(StandardCharsets.UTF_8))
                .file("tokenizer.json", TOKENIZER.getBytes(StandardCharsets.UTF_8))
                .lfsFile("model.safetensors", weights(scratch, "model.safetensors", 1f));
    }

    static LoupeException assertLoupe(Executable call, String... fragments) {
        LoupeException e = assertThrows(LoupeException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message should mention '" + f + "': " + e.getMessage());
        }
        return e;
    }

    /** Neither the message of {@code e} nor of any cause contains {@code secret}. */
    static void assertNotLeaked(Throwable e, String secret) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            assertFalse(String.valueOf(t.getMessage()).contains(secret), "secret leaked in " + t);
            assertFalse(t.toString().contains(secret), "secret leaked in " + t);
            for (Throwable s : t.getSuppressed()) {
                assertFalse(String.valueOf(s.getMessage()).contains(secret), "secret leaked in suppressed " + s);
            }
        }
    }
}
