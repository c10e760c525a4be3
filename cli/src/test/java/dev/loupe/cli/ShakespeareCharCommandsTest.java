package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.engine.zoo.ZooRecipe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The command shapes with the embedded shakespeare-char: its name works as a model and as a
 * tokenizer, and the demo makes it write and shows its logit lens.
 */
class ShakespeareCharCommandsTest {
    static final String NAME = ZooRecipe.SHAKESPEARE_CHAR;

    @TempDir
    Path tmp;

    static int[] ids(String line) {
        String inside = line.substring(line.indexOf('[') + 1, line.lastIndexOf(']'));
        return inside.isEmpty()
                ? new int[0]
                : Arrays.stream(inside.split(","))
                        .mapToInt(s -> Integer.parseInt(s.trim()))
                        .toArray();
    }

    @Test
    void theZooNameIsATokenizer() throws Exception {
        String text = "ROMEO:\nBut soft! what light through yonder window breaks?\n\nJULIET:\nAy me!\n";
        Path file = tmp.resolve("sonnet.txt");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        List<String> lines = CliRun.lines("tokenize", "--tokenizer", NAME, "--file", file.toString(), "--whole-file");
        assertEquals(1, lines.size(), lines.toString());
        Tokenizer tok = Zoo.tokenizer(NAME);
        assertArrayEquals(tok.encode(text), ids(lines.get(0)));
        assertEquals(text, tok.decode(ids(lines.get(0))));
    }

    /** logits --prompt: the BOS and one row per character, the model's own logits. */
    @Test
    void theZooNameIsAModelForLogitsAndGenerate() throws Exception {
        Path out = tmp.resolve("logits.npy");
        String prompt = "To be, or not to be";
        CliRun.output("logits", "--model", NAME, "--prompt", prompt, "--out", out.toString());
        INDArray logits = NpyReader.read(out);
        assertArrayEquals(new long[] {prompt.length() + 1, 66}, logits.shape());
        HookedTransformer model = Zoo.load(NAME);
        int[] ids = Zoo.tokenizer(NAME).toTokens(prompt);
        INDArray want = model.run(ids).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        double diff = Transforms.abs(logits.castTo(want.dataType()).sub(want), false)
                .maxNumber()
                .doubleValue();
        assertTrue(diff <= 1e-6, "max |diff| " + diff);
        // --tokens with the same ids gives the same file
        Path byIds = tmp.resolve("ids.npy");
        CliRun.output(
                "logits",
                "--model",
                NAME,
                "--tokens",
                String.join(",", Arrays.stream(ids).mapToObj(Integer::toString).toList()),
                "--out",
                byIds.toString());
        assertArrayEquals(Files.readAllBytes(out), Files.readAllBytes(byIds));

        String printed = CliRun.output(
                "generate", "--model", NAME, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--temperature", "0");
        String[] lines = printed.strip().split("\n");
        int[] generated = Arrays.stream(lines[lines.length - 1].trim().split(" "))
                .mapToInt(Integer::parseInt)
                .toArray();
        assertEquals(40, generated.length);
        // the whole sequence decoded (its BOS included, as TransformerLens decodes it), then the new ids
        assertTrue(printed.contains("ROMEO:" + Zoo.tokenizer(NAME).decode(generated) + "\n"), printed);
    }

    @Test
    void demoWritesAndShowsItsLogitLens() throws Exception {
        Path out = tmp.resolve("demo");
        String printed = CliRun.output("demo", "--model", NAME, "--out", out.toString());
        assertTrue(printed.contains("Greedy:\nROMEO:\n") && printed.contains("Sampled at temperature 0.8"), printed);
        assertTrue(printed.contains("Logit lens on a held-out passage") && printed.contains("after block 3"), printed);
        String html = Files.readString(out.resolve("index.html"));
        assertTrue(html.contains("window.Plotly") && html.contains("Logit lens"), "report");
        assertTrue(!html.contains("<script src"), "plotly.js is inlined");
    }
}
