package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CharTokenizerTest {
    static Path shakespeare() {
        return SharedData.require("corpora/tinyshakespeare.txt");
    }

    /**
     * nanoGPT's data/shakespeare_char/prepare.py prints for this corpus: 1,115,394 characters,
     * vocabulary "\n !$&',-.3:;?ABC...XYZabc...xyz" (65), ids by sorted position.
     */
    @Test
    void roundTripsTheWholeCorpusWithNanoGptsIds() throws IOException {
        String text = Files.readString(shakespeare(), StandardCharsets.UTF_8);
        CharTokenizer tok = CharTokenizer.fromText(text);
        assertEquals(65, tok.characters());
        assertEquals(66, tok.vocabSize());
        assertEquals(65, tok.bosId().getAsInt());
        String chars = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (int i = 0; i < chars.length(); i++) assertEquals(i, tok.idOf(chars.charAt(i)), "id of " + chars.charAt(i));
        long t0 = System.nanoTime();
        int[] ids = tok.encode(text);
        double ms = (System.nanoTime() - t0) / 1e6;
        assertEquals(1_115_394, ids.length);
        assertEquals(text, tok.decode(ids));
        assertTrue(ms < 5000, "encoding 1.1 MB took " + ms + " ms");
        // "First Citizen:" starts the corpus
        assertArrayEquals(
                new int[] {18, 47, 56, 57, 58, 1, 15, 47, 58, 47, 64, 43, 52, 10}, tok.encode("First Citizen:"));
    }

    @Test
    void aCharacterOutsideTheVocabularyIsNamedWithItsPlace() {
        CharTokenizer tok = CharTokenizer.fromText("ab\ncd e");
        String m =
                assertThrows(LoupeException.class, () -> tok.encode("ab\ncé")).getMessage();
        assertTrue(m.contains("character 'é' (U+00E9) at character index 4 (line 2, column 2)"), m);
        assertTrue(m.contains("vocabulary of 7 characters"), m);
        m = assertThrows(LoupeException.class, () -> tok.encode("a\tb")).getMessage();
        assertTrue(m.contains("'\\t' (U+0009) at character index 1 (line 1, column 2)"), m);
        // positions count characters, not UTF-16 units
        CharTokenizer emoji = CharTokenizer.fromText("a😀");
        assertEquals(List.of("a", "😀"), emoji.toStrTokens(emoji.encode("a😀")));
        m = assertThrows(LoupeException.class, () -> emoji.encode("😀😀b")).getMessage();
        assertTrue(m.contains("'b' (U+0062) at character index 2"), m);
        m = assertThrows(LoupeException.class, () -> tok.decode(new int[] {8})).getMessage();
        assertTrue(m.contains("token id 8 is outside the vocabulary 0..7"), m);
    }

    @Test
    void bosIsPrependedByToTokensAndRecognisedOnlyWhenSpecialTokensAreAllowed() {
        CharTokenizer tok = CharTokenizer.fromText("hello world<|bos>");
        int bos = tok.bosId().getAsInt();
        int[] t = tok.toTokens("hello");
        assertEquals(6, t.length);
        assertEquals(bos, t[0]);
        assertEquals(List.of("<|bos|>", "h", "e", "l", "l", "o"), tok.toStrTokens(t));
        assertEquals("hello", tok.decode(t, true));
        assertEquals("<|bos|>hello", tok.decode(t));
        assertEquals(bos, tok.encode("o<|bos|>o", true)[1]);
        assertEquals(3, tok.encode("o<|bos|>o", true).length);
        // without special tokens "<|bos|>" is text, and '|' before 'b' is... in this vocabulary
        assertEquals(9, tok.encode("o<|bos|>o", false).length);
        assertEquals("<|bos|>", tok.tokenString(bos));
        assertEquals(" ", tok.tokenString(tok.idOf(' ')));
    }

    @Test
    void savedBesideAModelAndFoundByTokenizersLoad(@TempDir Path dir) throws IOException {
        CharTokenizer tok = CharTokenizer.fromText("To be, or not to be:\nthat is the question.");
        Path file = tok.save(dir);
        assertEquals(dir.resolve(CharTokenizer.FILE), file);
        Tokenizer loaded = Tokenizers.load(dir);
        assertInstanceOf(CharTokenizer.class, loaded);
        assertTrue(Tokenizers.hasTokenizer(dir));
        String s = "not to be, that is\nthe question:";
        assertArrayEquals(tok.encode(s), loaded.encode(s));
        assertArrayEquals(tok.toTokens(s), Tokenizers.load(file).toTokens(s));
        Path copy = dir.resolve("copy");
        Tokenizers.copy(dir, copy);
        assertArrayEquals(tok.encode(s), Tokenizers.load(copy).encode(s));
    }

    @Test
    void malformedFilesAreRefusedWithTheFileAndWhatIsWrong(@TempDir Path dir) throws IOException {
        Path f = dir.resolve(CharTokenizer.FILE);
        String[][] cases = {
            {
                "{\"format\":\"loupe-char-tokenizer\",\"version\":1,\"bos_token\":\"<|bos|>\",\"chars\":[\"a\",\"bc\"]}",
                "chars[1] must be one character, got \"bc\""
            },
            {
                "{\"format\":\"loupe-char-tokenizer\",\"version\":1,\"bos_token\":\"<|bos|>\",\"chars\":[\"a\",\"a\"]}",
                "the character 'a' (U+0061) is listed twice"
            },
            {
                "{\"format\":\"loupe-char-tokenizer\",\"version\":2,\"bos_token\":\"<|bos|>\",\"chars\":[\"a\"]}",
                "version is 2, this Loupe reads version 1"
            },
            {"{\"format\":\"loupe-char-tokenizer\",\"version\":1,\"bos_token\":\"<|bos|>\"}", "is missing \"chars\""},
            {
                "{\"format\":\"loupe-char-tokenizer\",\"version\":1,\"bos_token\":\"<|bos|>\",\"chars\":[]}",
                "chars is empty"
            },
            {"{\"format\":\"loupe-char-tokenizer\",\"version\":1,\"chars\":[\"a\"]}", "bos_token must be \"<|bos|>\""},
            {
                "{\"format\":\"loupe-char-tokenizer\",\"version\":1,\"bos_token\":\"<|bos|>\",\"chars\":[\"a\", 3]}",
                "chars[1] must be a string, got number"
            },
        };
        for (String[] c : cases) {
            Files.writeString(f, c[0]);
            String m = assertThrows(LoupeException.class, () -> Tokenizers.load(dir))
                    .getMessage();
            assertTrue(m.contains(f.toString()) && m.contains(c[1]), c[0] + " -> " + m);
        }
        Files.writeString(f, "{\"chars\":[\"a\"]}");
        String m =
                assertThrows(LoupeException.class, () -> CharTokenizer.load(f)).getMessage();
        assertTrue(m.contains("is not a Loupe character tokenizer"), m);
    }
}
