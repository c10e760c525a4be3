package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@code ./loupe patch} against patching_reference.py: TransformerLens's patching semantics written
 * with PyTorch hooks on Hugging Face GPT-2 modules, on the small random GPT-2 folder of the engine's
 * test resources.
 */
class PatchCommandTest {
    static final String PYTHON = "/usr/bin/python3";
    static final String CLEAN = "3 17 9 30 1 22 7 7", CORRUPT = "3 17 9 12 1 22 5 7";
    static final int ANSWER = 12, WRONG = 29;

    @TempDir
    Path tmp;

    /** The engine's fixture folder (config.json + model.safetensors), copied out of its test jar. */
    private Path gpt2() throws IOException {
        Path dir = tmp.resolve("gpt2");
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "model.safetensors"))
            try (InputStream in = PatchCommandTest.class.getResourceAsStream("/dev/loupe/hf/gpt2/" + f)) {
                assertTrue(in != null, "engine test resource dev/loupe/hf/gpt2/" + f);
                Files.copy(in, dir.resolve(f));
            }
        return dir;
    }

    private INDArray patch(Path model, String target, String... extra) {
        Path out = tmp.resolve(target + ".npy");
        List<String> args = new java.util.ArrayList<>(List.of(
                "patch",
                "--model",
                model.toString(),
                "--clean",
                CLEAN,
                "--corrupt",
                CORRUPT,
                "--target",
                target,
                "--answer",
                "" + ANSWER,
                "--wrong",
                "" + WRONG,
                "--out",
                out.toString()));
        args.addAll(List.of(extra));
        String printed = CliRun.output(args.toArray(String[]::new));
        assertTrue(printed.contains("wrote " + out), printed);
        INDArray a = NpyReader.read(out);
        assertEquals(DataType.FLOAT, a.dataType());
        return a;
    }

    @Test
    void everyTargetMatchesTheReferenceWithin1e4() throws Exception {
        assumeTrue(torchAvailable(), "needs /usr/bin/python3 with torch and numpy");
        Path model = gpt2();
        Path ref = tmp.resolve("reference");
        JsonNode unpatched = reference(model, ref);
        for (String target : List.of("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "head_z")) {
            INDArray got = patch(model, target);
            INDArray want = NpyReader.read(ref.resolve(target + ".npy"));
            assertArrayEquals(want.shape(), got.shape(), target);
            assertArrayEquals(target.equals("head_z") ? new long[] {2, 2} : new long[] {2, 8}, got.shape(), target);
            double diff = Transforms.abs(got.castTo(DataType.DOUBLE).sub(want.castTo(DataType.DOUBLE)))
                    .maxNumber()
                    .doubleValue();
            System.out.printf(Locale.ROOT, "patch --target %s: max |loupe - reference| = %.2e%n", target, diff);
            assertTrue(diff <= 1e-4, target + ": max diff " + diff);
            // the patches do something: the values spread over more than the tolerance
            assertTrue(want.maxNumber().doubleValue() - want.minNumber().doubleValue() > 0.05, target + " " + want);
        }
        // --normalize: 0 = corrupted, 1 = clean
        double clean = unpatched.get("clean").asDouble(),
                corrupted = unpatched.get("corrupted").asDouble();
        INDArray norm = patch(model, "resid_pre", "--normalize");
        INDArray want =
                NpyReader.read(ref.resolve("resid_pre.npy")).sub(corrupted).div(clean - corrupted);
        assertTrue(Transforms.abs(norm.castTo(DataType.DOUBLE).sub(want))
                        .maxNumber()
                        .doubleValue()
                <= 1e-4);
    }

    /** --prompt/--corrupt-prompt and text answers go through the model's tokenizer, as their ids would. */
    @Test
    void promptsAndTextAnswersUseTheTokenizer() throws IOException {
        Path dir = tmp.resolve("with-tokenizer");
        dev.loupe.engine.model.TestModels.savedWithGpt2Tokenizer(dir);
        Path text = tmp.resolve("text.npy"), ids = tmp.resolve("ids.npy");
        CliRun.output(
                "patch",
                "--model",
                dir.toString(),
                "--prompt",
                "When Mary and John went out, John gave it to",
                "--corrupt-prompt",
                "When Mary and John went out, Mary gave it to",
                "--target",
                "head_z",
                "--answer",
                " Mary",
                "--wrong",
                " John",
                "--out",
                text.toString());
        // <|endoftext|>When Mary and John went out, John gave it to; " Mary" = 5335, " John" = 1757
        var tok = dev.loupe.engine.tokenizer.Tokenizers.load(dir);
        String clean = java.util.Arrays.stream(tok.toTokens("When Mary and John went out, John gave it to"))
                .mapToObj(Integer::toString)
                .collect(java.util.stream.Collectors.joining(" "));
        String corrupt = java.util.Arrays.stream(tok.toTokens("When Mary and John went out, Mary gave it to"))
                .mapToObj(Integer::toString)
                .collect(java.util.stream.Collectors.joining(" "));
        assertEquals(5335, tok.encode(" Mary")[0]);
        CliRun.output(
                "patch",
                "--model",
                dir.toString(),
                "--clean",
                clean,
                "--corrupt",
                corrupt,
                "--target",
                "head_z",
                "--answer",
                "5335",
                "--wrong",
                "1757",
                "--out",
                ids.toString());
        assertEquals(NpyReader.read(ids), NpyReader.read(text));
        assertFails(
                new String[] {
                    "patch",
                    "--model",
                    dir.toString(),
                    "--clean",
                    clean,
                    "--corrupt",
                    corrupt,
                    "--target",
                    "head_z",
                    "--answer",
                    " Mary Ann",
                    "--wrong",
                    "1757",
                    "--out",
                    ids.toString()
                },
                "--answer ' Mary Ann' is 2 tokens");
    }

    @Test
    void badArgumentsAreNamed() throws IOException {
        String model = gpt2().toString(), out = tmp.resolve("x.npy").toString();
        assertFails(args(model, CLEAN, CORRUPT, "resid", "1", out), "--target 'resid' is not one of");
        assertFails(
                args(model, CLEAN, "3 17 9", "resid_pre", "1", out), "the clean prompt has 8 tokens, the corrupted 3");
        assertFails(
                args(model, CLEAN, CORRUPT, "resid_pre", "32", out),
                "--answer 32 is outside the model's vocabulary 0..31");
        assertFails(
                args(model, CLEAN, "3 17 9 12 1 22 5 40", "resid_pre", "1", out), "--corrupt token 40 at position 7");
        assertFails(
                new String[] {
                    "patch",
                    "--model",
                    model,
                    "--corrupt",
                    CORRUPT,
                    "--target",
                    "resid_pre",
                    "--answer",
                    "1",
                    "--wrong",
                    "2",
                    "--out",
                    out
                },
                "--clean or --prompt is required");
    }

    private static String[] args(String model, String clean, String corrupt, String target, String answer, String out) {
        return new String[] {
            "patch",
            "--model",
            model,
            "--clean",
            clean,
            "--corrupt",
            corrupt,
            "--target",
            target,
            "--answer",
            answer,
            "--wrong",
            "2",
            "--out",
            out
        };
    }

    private static void assertFails(String[] argv, String fragment) {
        LoupeException e = assertThrows(LoupeException.class, () -> Main.run(argv));
        assertTrue(e.getMessage().contains(fragment), "message should contain \"" + fragment + "\": " + e.getMessage());
    }

    private static JsonNode reference(Path model, Path out) throws Exception {
        Path script = out.resolveSibling("patching_reference.py");
        try (InputStream in = PatchCommandTest.class.getResourceAsStream("/dev/loupe/cli/patching_reference.py")) {
            Files.copy(in, script);
        }
        Process p = new ProcessBuilder(
                        PYTHON,
                        script.toString(),
                        model.toString(),
                        CLEAN,
                        CORRUPT,
                        "" + ANSWER,
                        "" + WRONG,
                        out.toString())
                .redirectErrorStream(true)
                .start();
        String text = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "reference timed out");
        assertEquals(0, p.exitValue(), "patching_reference.py failed:\n" + text);
        String last = text.strip().lines().reduce((a, b) -> b).orElse("{}");
        return new ObjectMapper().readTree(last);
    }

    static boolean torchAvailable() {
        if (!Files.isExecutable(Path.of(PYTHON))) return false;
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch, numpy")
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
