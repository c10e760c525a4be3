package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/** {@code --prompt TEXT} for logits and generate: the tokenizer beside the model turns text into ids. */
class PromptOptionTest {
    @TempDir
    Path dir;

    private HookedTransformer modelWithGpt2Tokenizer() throws Exception {
        return TestModels.savedWithGpt2Tokenizer(dir);
    }

    @Test
    void promptIsTokenizedWithBosAsTransformerLensDoes() throws Exception {
        HookedTransformer model = modelWithGpt2Tokenizer();
        int[] ids = {50256, 15496, 995}; // <|endoftext|> "Hello" " world"
        Path out = dir.resolve("logits.npy");
        CliRun.lines("logits", "--model", dir.toString(), "--prompt", "Hello world", "--out", out.toString());
        INDArray logits = NpyReader.read(out);
        assertArrayEquals(new long[] {3, 50257}, logits.shape());
        assertEquals(0, logits.sub(model.run(ids).slice(0)).amaxNumber().doubleValue(), 1e-6);

        List<String> lines = CliRun.lines(
                "generate",
                "--model",
                dir.toString(),
                "--prompt",
                "Hello world",
                "--max-new-tokens",
                "4",
                "--temperature",
                "0");
        int[] expected = Generator.generate(model, Tokens.of(ids), SamplingConfig.greedy(4))
                .generated(0);
        assertEquals(
                Arrays.stream(expected).mapToObj(Integer::toString).collect(Collectors.joining(" ")),
                lines.get(lines.size() - 1));
        assertTrue(lines.get(lines.size() - 2).startsWith("<|endoftext|>Hello world"), lines.get(lines.size() - 2));
    }

    @Test
    void promptWithoutATokenizerSaysWhatToDo() {
        HookedTransformer model = HookedTransformer.random(
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(1)
                        .nHeads(2)
                        .dVocab(11)
                        .nCtx(8)
                        .build(),
                1);
        Checkpoint.save(model, dir);
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> Main.run(
                        new String[] {"generate", "--model", dir.toString(), "--prompt", "hi", "--max-new-tokens", "1"
                        }));
        assertTrue(e.getMessage().contains("--tokenizer PATH"), e.getMessage());
        e = assertThrows(
                LoupeException.class,
                () -> Main.run(new String[] {
                    "logits",
                    "--model",
                    dir.toString(),
                    "--prompt",
                    "hi",
                    "--tokens",
                    "1",
                    "--out",
                    dir.resolve("x.npy").toString()
                }));
        assertTrue(e.getMessage().contains("not both"), e.getMessage());
    }
}
