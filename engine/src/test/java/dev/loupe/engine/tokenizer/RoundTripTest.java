package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.SharedData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** decode(encode(s)) == s on the corpus and on seeded random Unicode strings. */
class RoundTripTest {

    @TempDir
    Path tmp;

    /** Characters from the classes tokenizers treat differently: every kind of space, marks, emoji, astral letters. */
    private static final String[] POOLS = {
        " \t\n\r\u000B\u000C\u001C\u0085\u00A0\u1680\u2000\u200A\u200B\u2028\u2029\u202F\u205F\u3000\uFEFF",
        "abcxyzABCXYZ'sdtmlrve",
        "0123456789٠١२३Ⅻ½²",
        "!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`\"'",
        "éèçñüßÅøœæ",
        "日本語中文한국어テキスト",
        "αβγΔΩбвгЖЯ",
        "\u0301\u0308\u0327\u093F",
        "\u0000\u0001\u007F\u0080\u009F",
        "\uD7FF\uE000\uFFFF",
        "<|endoftext|><s></s>",
    };

    /** A random valid Unicode string: BMP picks from the pools, plus random astral code points. */
    static String randomText(Random rnd) {
        StringBuilder sb = new StringBuilder();
        int n = rnd.nextInt(40);
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(10);
            if (kind == 0) {
                sb.appendCodePoint(0x10000 + rnd.nextInt(0x10FFFF - 0x10000 + 1)); // any astral code point
            } else if (kind == 1) {
                int cp;
                do cp = rnd.nextInt(0x10000);
                while (Character.isSurrogate((char) cp));
                sb.appendCodePoint(cp); // any BMP code point
            } else {
                String pool = POOLS[rnd.nextInt(POOLS.length)];
                sb.append(pool.charAt(rnd.nextInt(pool.length())));
            }
        }
        return sb.toString();
    }

    @Test
    void gpt2RoundTripsRandomUnicode() {
        Path dir = SharedData.require("tokenizers/gpt2");
        Tokenizer tok = Tokenizers.load(dir);
        Random rnd = new Random(20260101);
        for (int i = 0; i < 3000; i++) {
            String s = randomText(rnd);
            int[] ids = tok.encode(s);
            assertEquals(s, tok.decode(ids), "case " + i);
            assertArrayEquals(ids, tok.encode(s.getBytes(StandardCharsets.UTF_8), false), "bytes api, case " + i);
            String special = tok.decode(tok.encode(s, true));
            assertEquals(s, special, "allowSpecial, case " + i);
        }
    }

    @Test
    void handWrittenByteLevelRoundTripsEverythingItCanSpell() {
        // a vocabulary with all 256 byte characters and no merges: every string round-trips
        var json = HandWrittenTokenizers.byteLevel();
        json.putArray("added_tokens");
        var vocab = (com.fasterxml.jackson.databind.node.ObjectNode)
                json.get("model").get("vocab");
        vocab.removeAll();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevelAlphabet.charOf(b)), b);
        ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("model")).putArray("merges");
        Tokenizer tok = HandWrittenTokenizers.load(tmp, json);
        Random rnd = new Random(7);
        for (int i = 0; i < 2000; i++) {
            String s = randomText(rnd);
            assertEquals(s, tok.decode(tok.encode(s)), "case " + i);
            assertEquals(Utf8.encode(s).length, tok.encode(s).length, "one token per byte, case " + i);
        }
    }

    @Test
    void llama2cRoundTripsRandomUnicode() {
        Tokenizer tok = Tokenizers.load(SharedData.require("tokenizers/llama2c/tokenizer.bin"));
        Random rnd = new Random(99);
        for (int i = 0; i < 1000; i++) {
            String s = randomText(rnd);
            assertEquals(s, tok.decode(tok.encode(s)), "case " + i);
        }
    }

    @Test
    void toStrTokensShowsEachTokenAlone() throws IOException {
        Tokenizer gpt2 = Tokenizers.load(SharedData.require("tokenizers/gpt2"));
        assertEquals(List.of("<|endoftext|>", "Hello", " world"), gpt2.toStrTokens(gpt2.toTokens("Hello world")));
        // 🧠 is F0 9F A7 A0: GPT-2 splits " 🧠" into " F0 9F" | "A7" | "A0", each shown with U+FFFD on its own
        assertEquals(List.of(" \uFFFD", "\uFFFD", "\uFFFD"), gpt2.toStrTokens(gpt2.encode(" 🧠")));
        assertEquals(" 🧠", gpt2.decode(gpt2.encode(" 🧠")));
        assertEquals("Ġworld", gpt2.tokenString(995));
        assertEquals(50257, gpt2.vocabSize());

        Tokenizer llama = Tokenizers.load(SharedData.require("tokenizers/llama2c/tokenizer.bin"));
        assertEquals(List.of("<s>", "Hello", "world"), llama.toStrTokens(llama.toTokens("Hello world")));
        assertEquals("▁world", llama.tokenString(3186));
        assertEquals("<0x0A>", llama.tokenString(13));
        assertEquals("<s> Hello world", llama.decode(llama.toTokens("Hello world")));
        assertEquals("Hello world", llama.decode(llama.toTokens("Hello world"), true));
    }

    @Test
    void corpusEncodesInMilliseconds() throws IOException {
        Path corpus = SharedData.require("golden/tokenizer_corpus.txt");
        List<String> lines = Files.readAllLines(corpus, StandardCharsets.UTF_8);
        for (String which : List.of("tokenizers/gpt2", "tokenizers/llama2c")) {
            Tokenizer tok = Tokenizers.load(SharedData.require(which));
            for (String l : lines) tok.encode(l); // warm up the JIT and the word cache
            long best = Long.MAX_VALUE;
            for (int rep = 0; rep < 5; rep++) {
                long t0 = System.nanoTime();
                for (String l : lines) tok.encode(l);
                best = Math.min(best, System.nanoTime() - t0);
            }
            System.out.printf("%s: %d corpus lines in %.2f ms%n", which, lines.size(), best / 1e6);
            assertTrue(best < 100_000_000L, which + ": encoding the corpus took " + best / 1e6 + " ms");
        }
    }
}
