package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Lossy decoding must replace exactly what Python's {@code bytes.decode("utf-8", "replace")} replaces. */
class Utf8Test {

    private static byte[] b(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (byte) v[i];
        return out;
    }

    @Test
    void maximalSubpartsAsPython() {
        // expected strings from CPython 3.11: b.decode("utf-8", "replace")
        String r = "\uFFFD";
        assertEquals(r, Utf8.decodeLossy(b(0xF0, 0x9F)));
        assertEquals(r + r, Utf8.decodeLossy(b(0xE0, 0x80)));
        assertEquals(r + r + r, Utf8.decodeLossy(b(0xED, 0xA0, 0x80)));
        assertEquals("a" + r + "b", Utf8.decodeLossy(b('a', 0xFF, 'b')));
        assertEquals(r.repeat(4), Utf8.decodeLossy(b(0xF4, 0x90, 0x80, 0x80)));
        assertEquals(r, Utf8.decodeLossy(b(0xC2)));
        assertEquals(r + "A", Utf8.decodeLossy(b(0xE2, 0x82, 'A')));
        assertEquals("🙂", Utf8.decodeLossy(b(0xF0, 0x9F, 0x99, 0x82)));
        assertEquals(r + r, Utf8.decodeLossy(b(0x80, 0x80)));
        assertEquals(r + r, Utf8.decodeLossy(b(0xC0, 0xAF)));
        assertEquals(r.repeat(5), Utf8.decodeLossy(b(0xF8, 0x88, 0x80, 0x80, 0x80)));
    }

    @Test
    void validTextDecodesAsJava() {
        Random rnd = new Random(3);
        for (int i = 0; i < 1000; i++) {
            String s = RoundTripTest.randomText(rnd);
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            assertEquals(s, Utf8.decodeLossy(bytes));
            assertEquals(s, Utf8.decodeStrict(bytes, "t"));
            assertArrayEquals(bytes, Utf8.encode(s));
            assertTrue(Utf8.isValid(bytes));
        }
    }

    @Test
    void strictNamesTheOffset() {
        LoupeException e =
                assertThrows(LoupeException.class, () -> Utf8.decodeStrict(b('o', 'k', 0xE2, 0x82), "f.txt"));
        assertEquals("f.txt: invalid UTF-8 at byte offset 2 (byte 0xE2)", e.getMessage());
        e = assertThrows(LoupeException.class, () -> Utf8.encode("a\uDC00"));
        assertTrue(e.getMessage().contains("char index 1"), e.getMessage());
    }
}
