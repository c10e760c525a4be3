package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import dev.loupe.engine.model.Tokens;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BOS/EOS conventions, special-token text with allowSpecial on and off, and padded batches. */
class SpecialTokensAndBatchTest {

    @TempDir
    Path dir;

    @Test
    void gpt2Conventions() {
        Tokenizer tok = Tokenizers.load(SharedData.require("tokenizers/gpt2"));
        assertEquals(OptionalInt.of(50256), tok.bosId());
        assertEquals(OptionalInt.of(50256), tok.eosId());
        assertEquals(OptionalInt.empty(), tok.padId());
        // plain text: < | end of text | >
        assertArrayEquals(new int[] {27, 91, 437, 1659, 5239, 91, 29}, tok.encode("<|endoftext|>"));
        assertArrayEquals(new int[] {27, 91, 437, 1659, 5239, 91, 29}, tok.encode("<|endoftext|>", false));
        assertArrayEquals(new int[] {50256}, tok.encode("<|endoftext|>", true));
        assertArrayEquals(new int[] {15496, 50256, 995}, tok.encode("Hello<|endoftext|> world", true));
        // TransformerLens: BOS prepended by default, special tokens recognised
        assertArrayEquals(new int[] {50256, 15496, 995}, tok.toTokens("Hello world"));
        assertArrayEquals(new int[] {15496, 995}, tok.toTokens("Hello world", false));
        assertArrayEquals(new int[] {50256, 50256}, tok.toTokens("<|endoftext|>", true));
        assertEquals("<|endoftext|>Hello world", tok.decode(new int[] {50256, 15496, 995}));
        assertEquals("Hello world", tok.decode(new int[] {50256, 15496, 995}, true));
    }

    @Test
    void llama2cConventions() {
        Tokenizer tok = Tokenizers.load(SharedData.require("tokenizers/llama2c/tokenizer.bin"));
        assertEquals(OptionalInt.of(1), tok.bosId());
        assertEquals(OptionalInt.of(2), tok.eosId());
        assertEquals(OptionalInt.empty(), tok.padId());
        assertArrayEquals(new int[] {1}, tok.toTokens("", true));
        assertArrayEquals(new int[0], tok.encode(""));
        // "<s>" as text is spelled out; allowed, it is the BOS and each side is encoded as its own text
        int[] plain = tok.encode("a<s>b");
        assertTrue(plain.length > 3 && java.util.Arrays.stream(plain).noneMatch(i -> i == 1));
        int[] special = tok.encode("a<s>b", true);
        int[] a = tok.encode("a"), b = tok.encode("b");
        assertEquals(a.length + 1 + b.length, special.length);
        assertEquals(1, special[a.length]);
        assertArrayEquals(new int[] {1, 15043, 2}, tok.toTokens("Hello</s>", true));
    }

    @Test
    void batchPadsRightAndLeftWithTheMask() {
        Tokenizer tok = Tokenizers.load(SharedData.require("tokenizers/gpt2"));
        Tokens right = tok.encodeBatch(List.of("Hello world", "Hello"), true, Tokens.Side.RIGHT);
        // GPT-2 has no pad token: pad with the EOS (as TransformerLens)
        assertArrayEquals(new int[][] {{50256, 15496, 995}, {50256, 15496, 50256}}, right.ids());
        assertArrayEquals(new int[][] {{1, 1, 1}, {1, 1, 0}}, right.mask());
        Tokens left = tok.encodeBatch(List.of("Hello world", "Hello"), true, Tokens.Side.LEFT);
        assertArrayEquals(new int[][] {{50256, 15496, 995}, {50256, 50256, 15496}}, left.ids());
        assertArrayEquals(new int[][] {{1, 1, 1}, {0, 1, 1}}, left.mask());
        Tokens noBos = tok.encodeBatch(List.of("Hello", "Hello world"), false, Tokens.Side.LEFT);
        assertArrayEquals(new int[][] {{50256, 15496}, {15496, 995}}, noBos.ids());
        assertArrayEquals(new int[][] {{0, 1}, {1, 1}}, noBos.mask());

        Tokenizer llama = Tokenizers.load(SharedData.require("tokenizers/llama2c/tokenizer.bin"));
        Tokens l = llama.encodeBatch(List.of("Hello world", ""), true, Tokens.Side.RIGHT);
        assertArrayEquals(new int[][] {{1, 15043, 3186}, {1, 2, 2}}, l.ids());
        assertArrayEquals(new int[][] {{1, 1, 1}, {1, 0, 0}}, l.mask());
    }

    @Test
    void batchPadsWithThePadTokenElseZero() {
        ObjectNode cfg = HandWrittenTokenizers.JSON.createObjectNode();
        cfg.put("pad_token", "ccc");
        HandWrittenTokenizers.write(dir, "tokenizer_config.json", cfg);
        HfTokenizer withPad = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        Tokens t = withPad.encodeBatch(List.of("abc abc!", "ab"), false, Tokens.Side.RIGHT);
        assertArrayEquals(new int[][] {{5, 3, 5, 7}, {4, 101, 101, 101}}, t.ids());
        assertArrayEquals(new int[][] {{1, 1, 1, 1}, {1, 0, 0, 0}}, t.mask());

        HfTokenizer nothing = HandWrittenTokenizers.load(dir.resolve("plain"), HandWrittenTokenizers.byteLevel());
        Tokens z = nothing.encodeBatch(List.of("ab", "abc abc!"), false, Tokens.Side.LEFT);
        assertArrayEquals(new int[][] {{0, 0, 0, 4}, {5, 3, 5, 7}}, z.ids());
    }

    @Test
    void batchErrors() {
        HfTokenizer tok = HandWrittenTokenizers.load(dir, HandWrittenTokenizers.byteLevel());
        LoupeException e =
                assertThrows(LoupeException.class, () -> tok.encodeBatch(List.of("ab", ""), false, Tokens.Side.LEFT));
        assertTrue(e.getMessage().contains("text 1"), e.getMessage());
        assertThrows(LoupeException.class, () -> tok.encodeBatch(List.of(), false, Tokens.Side.LEFT));
    }
}
