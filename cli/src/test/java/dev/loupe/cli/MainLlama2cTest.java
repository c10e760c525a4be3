package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.loaders.Stories260K;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/** {@code ./loupe generate|logits|info --model X.bin} on the real stories260K checkpoint. */
class MainLlama2cTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void requireData() {
        Stories260K.assumeAvailable();
    }

    /** Runs the CLI in-process and returns what it printed. */
    @Test
    void generatePrintsTheGoldenGreedyContinuation() {
        String out = CliRun.output(
                "generate",
                "--model",
                Stories260K.bin().toString(),
                "--tokens",
                "1",
                "--max-new-tokens",
                "9",
                "--temperature",
                "0");
        String expected = Arrays.stream(Arrays.copyOf(Stories260K.greedyFromBos(), 9))
                .mapToObj(Integer::toString)
                .collect(Collectors.joining(" "));
        assertEquals(expected, CliRun.lastLine(out));
        String noCache = CliRun.output(
                "generate",
                "--model",
                Stories260K.bin().toString(),
                "--tokens",
                "1",
                "--max-new-tokens",
                "9",
                "--temperature",
                "0",
                "--no-kv-cache");
        assertEquals(expected, CliRun.lastLine(noCache));
    }

    @Test
    void logitsWritesRunCsLogits() {
        Path out = dir.resolve("logits.npy");
        String tokens = Arrays.stream(Stories260K.inputTokens())
                .mapToObj(Integer::toString)
                .collect(Collectors.joining(" "));
        CliRun.output("logits", "--model", Stories260K.bin().toString(), "--tokens", tokens, "--out", out.toString());
        INDArray actual = NpyReader.read(out), expected = Stories260K.logits();
        assertArrayEquals(expected.shape(), actual.shape());
        assertTrue(Transforms.abs(actual.sub(expected), false).maxNumber().doubleValue() <= 1e-4);
    }

    @Test
    void infoReadsTheHeader() {
        String out = CliRun.output("info", "--model", Stories260K.bin().toString());
        assertTrue(out.contains("family       llama2c"), out);
        assertTrue(
                out.contains("5 layers, d_model 64, 8 heads of 8 (4 key/value heads)")
                        && out.contains("vocabulary 512"),
                out);
        assertTrue(out.contains("parameters   260,032"), out);
    }

    @Test
    void aCorruptBinIsOneLineError() throws Exception {
        Path bad = Files.write(dir.resolve("bad.bin"), Arrays.copyOf(Files.readAllBytes(Stories260K.bin()), 1000));
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> Main.run(new String[] {"generate", "--model", bad.toString(), "--tokens", "1"}));
        assertTrue(e.getMessage().contains("bad.bin") && e.getMessage().contains("truncated"), e.getMessage());
    }
}
