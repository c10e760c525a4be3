package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.SharedData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Exactness against the reference tokenizations in ../shared/golden: every line must give exactly
 * the reference ids (GPT-2: tiktoken; llama2.c: run.c's encode with BOS).
 */
class GoldenTokensTest {

    @Test
    void gpt2FromVocabAndMergesMatchesEveryGoldenLine() {
        Path dir = SharedData.require("tokenizers/gpt2");
        List<SharedData.Golden> golden = SharedData.golden(SharedData.require("golden/gpt2_tokens.jsonl"));
        Tokenizer tok = Gpt2Files.load(dir.resolve("vocab.json"), dir.resolve("merges.txt"));
        assertEquals(26, golden.size());
        List<String> failures = new ArrayList<>();
        for (SharedData.Golden g : golden) {
            int[] ids = tok.encode(g.text());
            if (!Arrays.equals(g.ids(), ids))
                failures.add("line " + g.line() + " " + g.text() + "\n  expected " + Arrays.toString(g.ids())
                        + "\n  actual   " + Arrays.toString(ids));
            assertEquals(g.text(), tok.decode(ids), "round trip of line " + g.line());
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void llama2cMatchesEveryGoldenLine() {
        Path bin = SharedData.require("tokenizers/llama2c/tokenizer.bin");
        List<SharedData.Golden> golden = SharedData.golden(SharedData.require("golden/llama2c_tokens.jsonl"));
        Tokenizer tok = Llama2cTokenizer.load(bin);
        assertEquals(32000, tok.vocabSize());
        assertEquals(26, golden.size());
        List<String> failures = new ArrayList<>();
        for (SharedData.Golden g : golden) {
            int[] ids = tok.toTokens(g.text(), true);
            if (!Arrays.equals(g.ids(), ids))
                failures.add("line " + g.line() + " " + g.text() + "\n  expected " + Arrays.toString(g.ids())
                        + "\n  actual   " + Arrays.toString(ids));
            int[] plain = tok.encode(g.text());
            assertArrayEquals(
                    Arrays.copyOfRange(g.ids(), 1, g.ids().length), plain, "encode without BOS, line " + g.line());
            assertEquals(g.text(), tok.decode(plain), "round trip of line " + g.line());
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void goldenTextsAreTheCorpusLines() throws IOException {
        Path corpus = SharedData.require("golden/tokenizer_corpus.txt");
        List<String> lines =
                Arrays.asList(Files.readString(corpus, StandardCharsets.UTF_8).split("\n", -1));
        lines = lines.subList(0, lines.size() - 1); // the file ends with a newline
        for (String file : List.of("golden/gpt2_tokens.jsonl", "golden/llama2c_tokens.jsonl")) {
            List<SharedData.Golden> golden = SharedData.golden(SharedData.require(file));
            assertEquals(lines, golden.stream().map(SharedData.Golden::text).toList(), file);
        }
    }
}
