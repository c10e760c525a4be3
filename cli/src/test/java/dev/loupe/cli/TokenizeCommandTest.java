package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./loupe tokenize}: one {"ids":[...]} line per input line, checked against the golden files. */
class TokenizeCommandTest {

    @TempDir
    Path dir;

    private static Path shared(String relative) {
        return dev.loupe.engine.SharedData.require(relative);
    }

    private static List<String> goldenIdLines(Path jsonl) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            JsonNode ids = json.readTree(line).get("ids");
            out.add("{\"ids\":" + json.writeValueAsString(ids) + "}");
        }
        return out;
    }

    @Test
    void gpt2VocabJsonReproducesTheGoldenFile() throws IOException {
        Path vocab = shared("tokenizers/gpt2/vocab.json");
        Path corpus = shared("golden/tokenizer_corpus.txt");
        List<String> expected = goldenIdLines(shared("golden/gpt2_tokens.jsonl"));
        assertEquals(expected, CliRun.lines("tokenize", "--tokenizer", vocab.toString(), "--file", corpus.toString()));
    }

    @Test
    void llama2cWithBosReproducesTheGoldenFile() throws IOException {
        Path bin = shared("tokenizers/llama2c/tokenizer.bin");
        Path corpus = shared("golden/tokenizer_corpus.txt");
        List<String> expected = goldenIdLines(shared("golden/llama2c_tokens.jsonl"));
        assertEquals(
                expected,
                CliRun.lines("tokenize", "--tokenizer", bin.toString(), "--file", corpus.toString(), "--bos"));
        // the folder works too
        assertEquals(
                expected,
                CliRun.lines(
                        "tokenize", "--tokenizer", bin.getParent().toString(), "--file", corpus.toString(), "--bos"));
    }

    @Test
    void specialTokensOnlyWithAllowSpecial() throws IOException {
        Path vocab = shared("tokenizers/gpt2/vocab.json");
        Path f = Files.writeString(dir.resolve("in.txt"), "<|endoftext|>\r\nHello world", StandardCharsets.UTF_8);
        assertEquals(
                List.of("{\"ids\":[27,91,437,1659,5239,91,29]}", "{\"ids\":[15496,995]}"),
                CliRun.lines("tokenize", "--tokenizer", vocab.toString(), "--file", f.toString()));
        assertEquals(
                List.of("{\"ids\":[50256,50256]}", "{\"ids\":[50256,15496,995]}"),
                CliRun.lines(
                        "tokenize",
                        "--tokenizer",
                        vocab.toString(),
                        "--file",
                        f.toString(),
                        "--allow-special",
                        "--bos"));
    }

    @Test
    void invalidUtf8InputNamesTheByteOffset() throws IOException {
        Path vocab = shared("tokenizers/gpt2/vocab.json");
        Path f = Files.write(dir.resolve("bad.txt"), new byte[] {'o', 'k', '\n', 'a', (byte) 0xFF, 'b'});
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> CliRun.lines("tokenize", "--tokenizer", vocab.toString(), "--file", f.toString()));
        assertTrue(e.getMessage().contains("bad.txt") && e.getMessage().contains("byte offset 4"), e.getMessage());
    }

    @Test
    void missingOptionsAndPathsAreErrors() {
        assertThrows(LoupeException.class, () -> CliRun.lines("tokenize", "--file", "x.txt"));
        LoupeException e = assertThrows(
                LoupeException.class, () -> CliRun.lines("tokenize", "--tokenizer", dir.toString(), "--file", "x.txt"));
        assertTrue(e.getMessage().contains("no tokenizer found"), e.getMessage());
    }
}
