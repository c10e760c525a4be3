package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The command line, run in-process through {@link Main#run}. */
class MainTest {
    @TempDir
    Path tmp;

    private Path modelDir;
    private HookedTransformer model;

    @BeforeEach
    void saveModel() {
        // gpt2-like: d_model 8, 2 layers, d_vocab 11, n_ctx 16
        model = TestModels.model(TestModels.all("float32").get("gpt2-like"), 21);
        modelDir = tmp.resolve("model");
        Checkpoint.save(model, modelDir);
    }

    /** Runs the CLI and returns what it printed on standard output. */
    private static void assertFails(String[] argv, String... fragments) {
        LoupeException e = assertThrows(LoupeException.class, () -> Main.run(argv), Arrays.toString(argv));
        for (String f : fragments)
            if (!e.getMessage().contains(f)) fail("message should contain \"" + f + "\": " + e.getMessage());
    }

    @Test
    void infoPrintsAReadableSummaryAndJson() throws Exception {
        String out = CliRun.output("info", "--model", modelDir.toString());
        assertTrue(out.contains("2 layers, d_model 8"), out);
        assertTrue(out.contains("hook points  " + model.hookNames().size()), out);
        String count = out.lines()
                .filter(l -> l.startsWith("parameters "))
                .findFirst()
                .orElseThrow()
                .replaceAll("\\D", "");
        assertEquals(model.config().parameterCount(), Long.parseLong(count));
        assertFalse(out.contains("ModelConfig{"), "not a record's toString: " + out);

        JsonNode json = Json.mapper().readTree(CliRun.output("info", "--model", modelDir.toString(), "--json"));
        assertEquals(model.config().parameterCount(), json.get("parameters").asLong());
        assertEquals(8, json.get("config").get("d_model").asInt());
        assertEquals(model.hookNames().size(), json.get("hook_points").asInt());
    }

    @Test
    void logitsWritesFloat32NpyEqualToTheModelsLogits() {
        Path npy = tmp.resolve("out.npy");
        String out =
                CliRun.output("logits", "--model", modelDir.toString(), "--tokens", "1 5 9 3", "--out", npy.toString());
        assertTrue(out.contains(npy.toString()), out);
        INDArray written = NpyReader.read(npy);
        assertEquals(DataType.FLOAT, written.dataType());
        assertArrayEquals(new long[] {4, 11}, written.shape());
        INDArray expected =
                model.run(new int[] {1, 5, 9, 3}).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        for (int p = 0; p < 4; p++)
            for (int v = 0; v < 11; v++)
                assertEquals(expected.getFloat(p, v), written.getFloat(p, v), "logit [" + p + ", " + v + "]");
        // commas separate ids too
        CliRun.output("logits", "--model", modelDir.toString(), "--tokens", "1,5,9,3", "--out", npy.toString());
        assertEquals(written, NpyReader.read(npy));
    }

    @Test
    void greedyGenerateMatchesTheGenerator() {
        int[] prompt = {1, 5, 9};
        int[] expected = Generator.generate(model, Tokens.of(prompt), SamplingConfig.greedy(6))
                .generated(0);
        String out = CliRun.output(
                "generate",
                "--model",
                modelDir.toString(),
                "--tokens",
                "1 5 9",
                "--max-new-tokens",
                "6",
                "--temperature",
                "0");
        int[] printed = Arrays.stream(CliRun.lastLine(out).trim().split(" "))
                .mapToInt(Integer::parseInt)
                .toArray();
        assertArrayEquals(expected, printed, out);
        String noCache = CliRun.output(
                "generate",
                "--model",
                modelDir.toString(),
                "--tokens",
                "1 5 9",
                "--max-new-tokens",
                "6",
                "--temperature",
                "0",
                "--no-kv-cache");
        assertEquals(CliRun.lastLine(out), CliRun.lastLine(noCache));
    }

    @Test
    void benchForwardPrintsTokensPerSecond() {
        String out = CliRun.output("bench", "forward", "--shape", "tiny", "--batch", "1", "--seq", "8", "--iters", "1");
        assertTrue(out.matches("(?s).*loupe plain: [0-9.]+ tokens/s.*"), out);
    }

    @Test
    void helpPrintsUsage() {
        for (String[] argv : new String[][] {{"help"}, {"--help"}, {"-h"}}) {
            String out = CliRun.output(argv);
            assertTrue(out.contains("Usage: loupe [-hV] [COMMAND]"), out);
            assertTrue(out.contains("bench") && out.contains("harvest") && out.contains("tokenize"), out);
        }
        String bench = CliRun.output("bench", "--help");
        assertTrue(bench.contains("forward") && bench.contains("load") && bench.contains("train"), bench);
        String forward = CliRun.output("bench", "forward", "--help");
        assertTrue(forward.contains("--vs-torch") && forward.contains("default: gpt2-small"), forward);
        assertTrue(CliRun.output("help", "generate").contains("--max-new-tokens=N"));
        assertTrue(CliRun.output("--version").startsWith("loupe "));
    }

    @Test
    void badInputIsALoupeExceptionWithAClearMessage() {
        String m = modelDir.toString();
        assertFails(new String[] {"frobnicate"}, "unknown command 'frobnicate'", "./loupe --help");
        assertFails(new String[] {"info", "--model", m, "--verbose"}, "info: unknown option --verbose", "--model");
        assertFails(new String[] {"info"}, "info: --model is required");
        assertFails(
                new String[] {
                    "logits", "--tokens", "1 2", "--out", tmp.resolve("x.npy").toString()
                },
                "logits: --model is required");
        assertFails(new String[] {"generate", "--tokens", "1"}, "generate: --model is required");
        assertFails(
                new String[] {
                    "logits",
                    "--model",
                    m,
                    "--tokens",
                    "1 two 3",
                    "--out",
                    tmp.resolve("x.npy").toString()
                },
                "--tokens",
                "'two' is not a token id");
        assertFails(
                new String[] {"generate", "--model", m, "--tokens", "1", "--max-new-tokens", "many"},
                "--max-new-tokens must be an integer",
                "'many'");
        assertFails(
                new String[] {
                    "logits",
                    "--model",
                    m,
                    "--tokens",
                    "1 11",
                    "--out",
                    tmp.resolve("x.npy").toString()
                },
                "token id 11",
                "out of range 0..10");
        assertFails(new String[] {"generate", "--model", m, "--tokens", "-3", "--max-new-tokens", "2"}, "token id -3");
        assertFails(
                new String[] {"logits", "--model", tmp.resolve("nowhere").toString(), "--tokens", "1", "--out", "x.npy"
                },
                "nowhere",
                "no such file or folder");
        assertFails(new String[] {"info", "--model"}, "--model needs a value");
        assertFails(
                new String[] {"bench"},
                "bench: expected 'bench forward', 'bench load', 'bench train', 'bench probe', 'bench sae', 'bench patch' or"
                        + " 'bench spark-harvest', got nothing");
        assertFails(new String[] {"bench", "sideways"}, "bench: unknown command 'sideways'");
        assertFails(
                new String[] {"generate", "--model", m, "--tokens", "1", "--top-p", "most"},
                "generate: --top-p must be a number, got 'most'");
        assertFails(new String[] {"logits", "--model", m, "--tokens", "1"}, "logits: --out is required");
        assertFails(new String[] {"bench", "load", "--dtype", "int4"}, "--dtype must be bf16, f16 or f32");
        assertFails(new String[] {"bench", "forward", "--shape", "gpt5"}, "unknown --shape 'gpt5'");
    }
}
