package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Tokenizers#load}: which file a folder or path resolves to, and the errors when none fits. */
class TokenizersLoadTest {

    @TempDir
    Path dir;

    @Test
    void gpt2FromFolderVocabOrMerges() {
        Path gpt2 = SharedData.require("tokenizers/gpt2");
        int[] expected = {15496, 995};
        for (Path p : new Path[] {gpt2, gpt2.resolve("vocab.json"), gpt2.resolve("merges.txt")}) {
            Tokenizer tok = Tokenizers.load(p);
            assertInstanceOf(HfTokenizer.class, tok, p.toString());
            assertArrayEquals(expected, tok.encode("Hello world"), p.toString());
        }
    }

    @Test
    void folderPrefersTokenizerJson() throws IOException {
        HandWrittenTokenizers.write(dir, "tokenizer.json", HandWrittenTokenizers.byteLevel());
        Files.write(dir.resolve("tokenizer.bin"), new byte[] {1, 2, 3});
        Tokenizer tok = Tokenizers.load(dir);
        assertArrayEquals(new int[] {5}, tok.encode("abc"));
        // any .json with a "model" object is a tokenizer.json
        Path other = HandWrittenTokenizers.write(dir, "my-tokenizer.json", HandWrittenTokenizers.byteLevel());
        assertArrayEquals(new int[] {5}, Tokenizers.load(other).encode("abc"));
        // the broken tokenizer.bin is only read when asked for
        LoupeException e = assertThrows(LoupeException.class, () -> Tokenizers.load(dir.resolve("tokenizer.bin")));
        assertTrue(e.getMessage().contains("tokenizer.bin"), e.getMessage());
    }

    @Test
    void llama2cFromFolderOrFile() {
        Path bin = SharedData.require("tokenizers/llama2c/tokenizer.bin");
        assertInstanceOf(Llama2cTokenizer.class, Tokenizers.load(bin.getParent()));
        Llama2cTokenizer tok = (Llama2cTokenizer) Tokenizers.load(bin);
        assertEquals(27, tok.maxTokenLength());
        assertEquals(32000, Llama2cTokenizer.load(bin, 32000).vocabSize());
        assertEquals(300, Llama2cTokenizer.load(bin, 300).vocabSize()); // run.c reads only vocab_size tokens
        assertThrows(LoupeException.class, () -> Llama2cTokenizer.load(bin, 40000));
    }

    @Test
    void smallHandBuiltTokenizerBin() throws IOException {
        // 259 base tokens and " ", "a", " a" with scores: " a" merges
        Path bin = Files.write(
                dir.resolve("tok.bin"), TokenizerBin.build(new String[] {" ", "a", " a"}, new float[] {-5, -1, -2}));
        Llama2cTokenizer tok = Llama2cTokenizer.load(bin);
        assertEquals(262, tok.vocabSize());
        // dummy " " + "a" -> " a" (261); "b" is not in the vocabulary -> byte 0x62 + 3
        assertArrayEquals(new int[] {1, 261, 0x62 + 3}, tok.toTokens("ab", true));
        assertEquals("ab", tok.decode(tok.encode("ab")));
    }

    @Test
    void missingThingsAreNamed() throws IOException {
        LoupeException e = assertThrows(LoupeException.class, () -> Tokenizers.load(dir));
        assertTrue(e.getMessage().contains("no tokenizer found"), e.getMessage());
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(dir.resolve("nothing.json")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
        Path vocab = Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0}");
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(vocab));
        assertTrue(e.getMessage().contains("merges.txt"), e.getMessage());
        Path odd = Files.writeString(dir.resolve("weights.safetensors"), "x");
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(odd));
        assertTrue(e.getMessage().contains("not a tokenizer file"), e.getMessage());
    }

    @Test
    void badMergesAndVocabularies() throws IOException {
        Path d = Files.createDirectories(dir.resolve("g"));
        Files.writeString(d.resolve("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        Files.writeString(d.resolve("merges.txt"), "#version: 0.2\na b\n");
        assertArrayEquals(new int[] {2}, Tokenizers.load(d).encode("ab"));
        Files.writeString(d.resolve("merges.txt"), "#version: 0.2\na b c\n");
        LoupeException e = assertThrows(LoupeException.class, () -> Tokenizers.load(d));
        assertTrue(e.getMessage().contains("merges.txt: line 2"), e.getMessage());
        Files.writeString(d.resolve("merges.txt"), "a x\n");
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(d));
        assertTrue(e.getMessage().contains("'x' is not in the vocabulary"), e.getMessage());
        Files.write(d.resolve("merges.txt"), new byte[] {'a', ' ', 'b', '\n', (byte) 0xE2, (byte) 0x28});
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(d));
        assertTrue(e.getMessage().contains("byte offset 4"), e.getMessage());
        Files.writeString(d.resolve("merges.txt"), "a b\n");
        Files.writeString(d.resolve("vocab.json"), "{\"a\": 0, \"b\": 0, \"ab\": 2}");
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(d));
        assertTrue(e.getMessage().contains("id 0 is given to both"), e.getMessage());
        Files.writeString(d.resolve("vocab.json"), "{\"a\": 0, \"b\": -1}");
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(d));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains("-1"), e.getMessage());
        Files.writeString(d.resolve("vocab.json"), "[1, 2]");
        e = assertThrows(LoupeException.class, () -> Tokenizers.load(d));
        assertTrue(e.getMessage().contains("must be a JSON object"), e.getMessage());
    }

    @Test
    void badTokenizerBins() throws IOException {
        byte[] good = TokenizerBin.build(new String[] {" "}, new float[] {0});
        Path p = dir.resolve("t.bin");
        Files.write(p, java.util.Arrays.copyOf(good, good.length - 1));
        LoupeException e = assertThrows(LoupeException.class, () -> Llama2cTokenizer.load(p));
        assertTrue(e.getMessage().contains("t.bin") && e.getMessage().contains("byte offset"), e.getMessage());
        byte[] badMax = good.clone();
        ByteBuffer.wrap(badMax).order(ByteOrder.LITTLE_ENDIAN).putInt(0, -3);
        Files.write(p, badMax);
        e = assertThrows(LoupeException.class, () -> Llama2cTokenizer.load(p));
        assertTrue(e.getMessage().contains("max_token_length"), e.getMessage());
        Files.write(p, TokenizerBin.build(new String[0], new float[0], 100));
        e = assertThrows(LoupeException.class, () -> Llama2cTokenizer.load(p));
        assertTrue(e.getMessage().contains("at least 259"), e.getMessage());
        // no " " token: the dummy prefix cannot be encoded
        Files.write(p, TokenizerBin.build(new String[] {"a"}, new float[] {0}));
        Llama2cTokenizer noSpace = Llama2cTokenizer.load(p);
        e = assertThrows(LoupeException.class, () -> noSpace.encode("a"));
        assertTrue(e.getMessage().contains("dummy prefix"), e.getMessage());
    }

    /** Writes llama2.c tokenizer.bin files: {@code <unk>}, {@code <s>}, {@code </s>}, 256 byte tokens, then extras. */
    static final class TokenizerBin {
        static byte[] build(String[] extra, float[] scores) {
            return build(extra, scores, 256);
        }

        static byte[] build(String[] extra, float[] scores, int byteTokens) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            out.write(b.putInt(0, 16).array(), 0, 4);
            String[] base = new String[3 + byteTokens];
            base[0] = "<unk>";
            base[1] = "\n<s>\n";
            base[2] = "\n</s>\n";
            for (int i = 0; i < byteTokens; i++) base[3 + i] = String.format("<0x%02X>", i);
            for (int i = 0; i < base.length + extra.length; i++) {
                String s = i < base.length ? base[i] : extra[i - base.length];
                float score = i < base.length ? 0 : scores[i - base.length];
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                b.clear();
                b.putFloat(score).putInt(bytes.length);
                out.writeBytes(b.array());
                out.writeBytes(bytes);
            }
            return out.toByteArray();
        }
    }
}
