package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hand-written tokenizer.json files of {@link HandWrittenTokenizers}, against ids worked out by hand. */
class TokenizerJsonTest {

    @TempDir
    Path dir;

    // ---------------------------------------------------------------- byte-level BPE

    @Test
    void byteLevelMergesLowestRankFirst() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        assertEquals("byte-level BPE", tok.kind());
        // GPT-2 regex: "abc" | " abc" | "!"  ->  "abc" | "Ġabc" | "!"
        // "abc":  a b c -> (a,b) rank 0 -> ab c -> (ab,c) rank 1 -> abc = 5
        // "Ġabc": Ġ a b c -> (a,b) r0 -> Ġ ab c; now (Ġ,ab) r2 and (ab,c) r1: r1 first -> Ġ abc; (Ġ,abc) has no merge
        //         -> [Ġ=3, abc=5]   (so "Ġab c" never gets a chance)
        assertArrayEquals(new int[] {5, 3, 5, 7}, tok.encode("abc abc!"));
        assertEquals("abc abc!", tok.decode(new int[] {5, 3, 5, 7}));
        assertEquals(List.of("abc", " ", "abc", "!"), tok.toStrTokens(new int[] {5, 3, 5, 7}));
        assertEquals("Ġab", tok.tokenString(6));
        assertEquals(102, tok.vocabSize());
    }

    @Test
    void byteLevelSpecialTokensOnlyWhenAllowed() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        // plain: "abc" | "<" | "eot" | ">" | "ab"  ->  5 | 9 | e o t = 10 11 12 | 13 | 4
        assertArrayEquals(new int[] {5, 9, 10, 11, 12, 13, 4}, tok.encode("abc<eot>ab"));
        assertArrayEquals(new int[] {5, 9, 10, 11, 12, 13, 4}, tok.encode("abc<eot>ab", false));
        assertArrayEquals(new int[] {5, 100, 4}, tok.encode("abc<eot>ab", true));
        assertEquals("abc<eot>ab", tok.decode(new int[] {5, 100, 4}));
        assertEquals("abcab", tok.decode(new int[] {5, 100, 4}, true));
        // "ccc" is an added token that is not special: recognised either way (leftmost-longest)
        assertArrayEquals(new int[] {4, 101}, tok.encode("abccc", false));
        assertArrayEquals(new int[] {4, 101}, tok.encode("abccc", true));
        assertEquals("abccc", tok.decode(new int[] {4, 101}, true));
    }

    @Test
    void byteLevelWithoutBosOrEosCannotPrepend() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        assertEquals(OptionalInt.empty(), tok.bosId());
        assertEquals(OptionalInt.empty(), tok.eosId());
        assertArrayEquals(new int[] {5}, tok.toTokens("abc", false));
        LoupeException e = assertThrows(LoupeException.class, () -> tok.toTokens("abc", true));
        assertTrue(e.getMessage().contains("no BOS"), e.getMessage());
    }

    @Test
    void tokenizerConfigNamesTheSpecialTokens() {
        ObjectNode cfg = HandWrittenTokenizers.JSON.createObjectNode();
        cfg.put("bos_token", "<eot>");
        cfg.putObject("eos_token").put("content", "<eot>").put("__type", "AddedToken");
        cfg.put("pad_token", "ccc");
        cfg.put("add_bos_token", true);
        HandWrittenTokenizers.write(dir, "tokenizer_config.json", cfg);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        assertEquals(OptionalInt.of(100), tok.bosId());
        assertEquals(OptionalInt.of(100), tok.eosId());
        assertEquals(OptionalInt.of(101), tok.padId());
        assertTrue(tok.addsBos());
        // toTokens follows TransformerLens: special tokens recognised, BOS prepended
        assertArrayEquals(new int[] {100, 5, 100}, tok.toTokens("abc<eot>"));
    }

    @Test
    void tokenizerConfigNamingAnUnknownTokenIsAnError() {
        ObjectNode cfg = HandWrittenTokenizers.JSON.createObjectNode();
        cfg.put("bos_token", "<nope>");
        HandWrittenTokenizers.write(dir, "tokenizer_config.json", cfg);
        LoupeException e = assertThrows(
                LoupeException.class, () -> HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel()));
        assertTrue(
                e.getMessage().contains("tokenizer_config.json")
                        && e.getMessage().contains("<nope>"),
                e.getMessage());
    }

    // ---------------------------------------------------------------- SentencePiece BPE

    @Test
    void sentencePieceMergesAndDummyPrefix() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.sentencePiece());
        assertEquals("SentencePiece BPE", tok.kind());
        // normalized "▁ab▁ab", one word: ▁ a b ▁ a b
        // (a,b) rank 0 at 1 and 4 -> ▁ ab ▁ ab; the queued (▁,a) rank 1 entries are stale; (▁,ab) rank 2 twice
        assertArrayEquals(new int[] {264, 264}, tok.encode("ab ab"));
        assertEquals("ab ab", tok.decode(new int[] {264, 264}));
        // " ab" -> "▁▁ab": ▁ ▁ a b -> ▁ ▁ab (no ▁▁ merge)
        assertArrayEquals(new int[] {259, 264}, tok.encode(" ab"));
        assertEquals(" ab", tok.decode(new int[] {259, 264}));
        assertArrayEquals(new int[0], tok.encode(""));
        assertEquals(OptionalInt.of(1), tok.bosId());
        assertEquals(OptionalInt.of(2), tok.eosId());
        assertArrayEquals(new int[] {1, 264, 264}, tok.toTokens("ab ab", true));
        assertArrayEquals(new int[] {1}, tok.toTokens("", true));
        // HF decodes special tokens as written, and strips the dummy prefix only at the very start
        assertEquals("<s> ab ab", tok.decode(new int[] {1, 264, 264}));
        assertEquals("ab ab", tok.decode(new int[] {1, 264, 264}, true));
        // each token on its own: the leading space is stripped, as TransformerLens shows Llama tokens
        assertEquals(List.of("<s>", "ab", "ab", ""), tok.toStrTokens(new int[] {1, 264, 264, 259}));
        assertEquals("▁ab", tok.tokenString(264));
        assertEquals("<0x0A>", tok.tokenString(3 + 10));
    }

    @Test
    void sentencePieceByteFallback() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.sentencePiece());
        // "▁a€": € is not in the vocabulary -> its bytes E2 82 AC -> ids 3+0xE2, 3+0x82, 3+0xAC
        assertArrayEquals(new int[] {262, 229, 133, 175}, tok.encode("a€"));
        assertEquals("a€", tok.decode(new int[] {262, 229, 133, 175}));
        // a lone continuation byte is not text: one U+FFFD per invalid byte token
        assertEquals("a\uFFFD", tok.decode(new int[] {262, 133}));
        // special token text as plain text goes through the byte fallback: < s > = 0x3C 0x73 0x3E
        assertArrayEquals(new int[] {259, 63, 118, 65, 263}, tok.encode("<s>ab"));
        assertArrayEquals(new int[] {1, 264}, tok.encode("<s>ab", true));
        assertArrayEquals(new int[] {264, 2, 264}, tok.encode("ab</s>ab", true));
    }

    @Test
    void sentencePieceUnknownCharactersWithoutByteFallback() {
        ObjectNode json = HandWrittenTokenizers.sentencePiece();
        ((ObjectNode) json.get("model")).put("byte_fallback", false);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, json);
        // "▁a€€b": ▁ a <unk> b, the two unknown characters fused into one <unk>
        assertArrayEquals(new int[] {262, 0, 261}, tok.encode("a€€b"));
        ((ObjectNode) json.get("model")).put("fuse_unk", false);
        HfTokenizer unfused = HandWrittenTokenizers.load(dir.resolve("unfused"), json);
        assertArrayEquals(new int[] {262, 0, 0, 261}, unfused.encode("a€€b"));
    }

    @Test
    void metaspacePreTokenizerMatchesTheLegacyNormalizer() {
        // The newer Llama conversion: no normalizer, Metaspace(prepend_scheme "first", split false)
        ObjectNode json = HandWrittenTokenizers.sentencePiece();
        json.putNull("normalizer");
        json.putObject("pre_tokenizer")
                .put("type", "Metaspace")
                .put("replacement", "▁")
                .put("prepend_scheme", "first")
                .put("split", false);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, json);
        HfTokenizer legacy = HandWrittenTokenizers.load(dir.resolve("legacy"), HandWrittenTokenizers.sentencePiece());
        for (String s : new String[] {"ab ab", "a€", "", "ab  ab "}) {
            assertArrayEquals(legacy.encode(s), tok.encode(s), s);
            assertEquals(s, tok.decode(tok.encode(s)), s);
        }
        // a leading space is already a ▁, so none is prepended (unlike the legacy normalizer: [259, 264])
        assertArrayEquals(new int[] {264}, tok.encode(" ab"));
        // "first": only the text's first piece gets the ▁; after a special token there is none
        // ("<s>" | "ab" -> "ab": a b -> ab = 263)
        assertArrayEquals(new int[] {1, 263}, tok.encode("<s>ab", true));
        // split true (the default) cuts before every ▁: "▁ab" | "▁ab"
        ((ObjectNode) json.get("pre_tokenizer")).put("split", true);
        assertArrayEquals(
                new int[] {264, 264},
                HandWrittenTokenizers.load(dir.resolve("split"), json).encode("ab ab"));
    }

    @Test
    void metaspaceDecoderDropsTheFirstReplacement() {
        ObjectNode json = HandWrittenTokenizers.sentencePiece();
        json.putObject("decoder")
                .put("type", "Metaspace")
                .put("replacement", "▁")
                .put("prepend_scheme", "always")
                .put("split", true);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, json);
        assertEquals("ab ab", tok.decode(new int[] {264, 264}));
        ((ObjectNode) json.get("decoder")).put("prepend_scheme", "never");
        assertEquals(
                " ab ab", HandWrittenTokenizers.load(dir.resolve("never"), json).decode(new int[] {264, 264}));
    }

    // ---------------------------------------------------------------- Llama 3 style

    @Test
    void llama3SplitRegexThenByteLevel() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.llama3());
        assertEquals("byte-level BPE", tok.kind());
        // Llama 3 regex: "I" | "'M" (case-insensitive contraction) | " " | "123" | "45" (digits in threes) | " ok"
        // "'M": ' M -> 'M = 3;  " ": Ġ = 4;  "123": 1 2 3 -> 12 3 -> 123 = 11
        // "45": no merge "4 5", but ignore_merges takes the whole word from the vocabulary = 12
        // " ok": Ġ o k -> (Ġ,o) r2 vs (o,k) r5: Ġo k -> Ġok = 16
        assertArrayEquals(new int[] {0, 3, 4, 11, 12, 16}, tok.encode("I'M 12345 ok"));
        assertEquals("I'M 12345 ok", tok.decode(new int[] {0, 3, 4, 11, 12, 16}));
        // "\s*[\r\n]+" keeps newlines together: "ok" | "\n\n" | "ok"
        assertArrayEquals(new int[] {17, 19, 17}, tok.encode("ok\n\nok"));
        // BOS from the TemplateProcessing post-processor, EOS by name
        assertEquals(OptionalInt.of(20), tok.bosId());
        assertEquals(OptionalInt.of(21), tok.eosId());
        assertTrue(tok.addsBos());
        assertArrayEquals(new int[] {20, 17}, tok.toTokens("ok", true));
        assertArrayEquals(new int[] {20, 17, 21}, tok.toTokens("ok<|end_of_text|>", true));
    }

    @Test
    void llama3WithoutIgnoreMergesSpellsUnmergeableWords() {
        ObjectNode json = HandWrittenTokenizers.llama3();
        ((ObjectNode) json.get("model")).put("ignore_merges", false);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, json);
        assertArrayEquals(new int[] {0, 3, 4, 11, 8, 9, 16}, tok.encode("I'M 12345 ok"));
    }

    @Test
    void llama3PatternDiffersFromGpt2Pattern() {
        // the same vocabulary with the GPT-2 regex: "'M" is not a contraction there -> "'" | "M"
        ObjectNode json = HandWrittenTokenizers.llama3();
        ((ObjectNode) json.at("/pre_tokenizer/pretokenizers/0/pattern")).put("Regex", PreTokenizer.GPT2_PATTERN);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, json);
        // GPT-2: "I" | "'" | "M" | " 12345" (not in the vocabulary: Ġ 1 2 3 4 5 -> Ġ 123 4 5) | " ok"
        assertArrayEquals(new int[] {0, 1, 2, 4, 11, 8, 9, 16}, tok.encode("I'M 12345 ok"));
    }

    // ---------------------------------------------------------------- unsupported features

    @Test
    void unsupportedModelTypeNamesFileTypeAndSupported() {
        ObjectNode json = HandWrittenTokenizers.byteLevel();
        ((ObjectNode) json.get("model")).put("type", "Unigram");
        Path file = HandWrittenTokenizers.write(dir, "tokenizer.json", json);
        LoupeException e = assertThrows(LoupeException.class, () -> TokenizerJson.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(
                e.getMessage().contains("'Unigram'") && e.getMessage().contains("supported model types: BPE"),
                e.getMessage());

        ((ObjectNode) json.get("model")).put("type", "WordPiece");
        Path file2 = HandWrittenTokenizers.write(dir, "tokenizer.json", json);
        e = assertThrows(LoupeException.class, () -> TokenizerJson.load(file2));
        assertTrue(e.getMessage().contains("'WordPiece'"), e.getMessage());
    }

    @Test
    void unsupportedNormalizerPreTokenizerAndDecoder() {
        ObjectNode json = HandWrittenTokenizers.byteLevel();
        json.putObject("normalizer").put("type", "BertNormalizer");
        assertUnsupported(json, "normalizer has type 'BertNormalizer'", "supported normalizer types", "Prepend");

        json = HandWrittenTokenizers.byteLevel();
        ArrayNode seq = json.putObject("pre_tokenizer").put("type", "Sequence").putArray("pretokenizers");
        seq.addObject().put("type", "Whitespace");
        assertUnsupported(
                json,
                "pre_tokenizer.pretokenizers[0] has type 'Whitespace'",
                "supported pre-tokenizer types",
                "Metaspace");

        json = HandWrittenTokenizers.byteLevel();
        json.putObject("decoder").put("type", "WordPiece");
        assertUnsupported(json, "decoder has type 'WordPiece'", "supported decoder types", "ByteFallback");

        json = HandWrittenTokenizers.byteLevel();
        ((ObjectNode) json.get("model")).put("dropout", 0.1);
        assertUnsupported(json, "model.dropout", "not supported");
    }

    private void assertUnsupported(ObjectNode json, String... fragments) {
        Path file = HandWrittenTokenizers.write(dir, "tokenizer.json", json);
        LoupeException e = assertThrows(LoupeException.class, () -> TokenizerJson.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "\"" + f + "\" not in: " + e.getMessage());
    }

    @Test
    void unknownIdsAndBadTextAreLoupeExceptions() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        assertThrows(LoupeException.class, () -> tok.decode(new int[] {50}));
        assertThrows(LoupeException.class, () -> tok.decode(new int[] {-1}));
        assertThrows(LoupeException.class, () -> tok.tokenString(99));
        LoupeException e = assertThrows(LoupeException.class, () -> tok.encode("ab\uD800c"));
        assertTrue(e.getMessage().contains("surrogate"), e.getMessage());
        e = assertThrows(LoupeException.class, () -> tok.encode(new byte[] {'a', 'b', (byte) 0xC3, 'c'}, false));
        assertTrue(e.getMessage().contains("byte offset 2"), e.getMessage());
        assertArrayEquals(new int[] {5}, tok.encode("abc".getBytes(java.nio.charset.StandardCharsets.UTF_8), false));
        assertFalse(tok.toString().isEmpty());
    }
}
