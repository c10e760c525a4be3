package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 conversions with the exact behaviour tokenizers need, written out rather than left to
 * {@link java.nio.charset.CharsetDecoder}: strict decoding reports the byte offset of the first bad
 * sequence, and lossy decoding replaces each "maximal subpart" of an ill-formed sequence with one
 * U+FFFD, as Python's {@code bytes.decode(errors="replace")} and Rust's {@code from_utf8_lossy} do
 * (Unicode 15, section 3.9) — so a lone byte token decodes to the same string as in Hugging Face.
 */
public final class Utf8 {
    public static final char REPLACEMENT = '\uFFFD';

    private Utf8() {}

    /** The UTF-8 bytes of {@code text}; an unpaired surrogate (not a Unicode string) is an error. */
    public static byte[] encode(String text) {
        requireUnicode(text);
        return text.getBytes(StandardCharsets.UTF_8); // exact for a string without unpaired surrogates
    }

    /** Checks {@code text} has no unpaired surrogate (Java would silently encode one as '?'). */
    public static void requireUnicode(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!Character.isSurrogate(c)) continue;
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
                continue;
            }
            throw new LoupeException(
                    "text has an unpaired surrogate U+" + Integer.toHexString(c).toUpperCase() + " at char index " + i
                            + " (not valid Unicode, cannot be encoded as UTF-8)");
        }
    }

    /** Decodes {@code bytes}; {@code what} (a file name, "input text") starts the error message. */
    public static String decodeStrict(byte[] bytes, String what) {
        requireValid(bytes, what);
        return new String(bytes, StandardCharsets.UTF_8); // exact for well-formed input
    }

    /** Decodes {@code bytes}, one U+FFFD per maximal ill-formed subpart. */
    public static String decodeLossy(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length);
        int i = 0;
        while (i < bytes.length) {
            int n = sequenceLength(bytes, i, bytes.length);
            if (n > 0) {
                sb.appendCodePoint(codePoint(bytes, i, n));
                i += n;
            } else {
                sb.append(REPLACEMENT);
                i += Math.max(1, -n);
            }
        }
        return sb.toString();
    }

    /** Checks {@code bytes} is well-formed UTF-8; the error names {@code what} and the byte offset. */
    public static void requireValid(byte[] bytes, String what) {
        for (int i = 0; i < bytes.length; ) {
            int n = sequenceLength(bytes, i, bytes.length);
            if (n <= 0)
                throw new LoupeException(what + ": invalid UTF-8 at byte offset " + i + " (byte 0x"
                        + String.format("%02X", bytes[i] & 0xFF) + ")");
            i += n;
        }
    }

    /** True when {@code bytes} is well-formed UTF-8. */
    public static boolean isValid(byte[] bytes) {
        for (int i = 0; i < bytes.length; ) {
            int n = sequenceLength(bytes, i, bytes.length);
            if (n <= 0) return false;
            i += n;
        }
        return true;
    }

    /**
     * Length of the well-formed sequence starting at {@code i}, or minus the length of the maximal
     * ill-formed subpart there (at least one byte). Ranges from Unicode Table 3-7.
     */
    private static int sequenceLength(byte[] b, int i, int to) {
        int b0 = b[i] & 0xFF;
        if (b0 < 0x80) return 1;
        int need;
        int lo = 0x80, hi = 0xBF;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            need = 1;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            need = 2;
            if (b0 == 0xE0) lo = 0xA0;
            if (b0 == 0xED) hi = 0x9F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            need = 3;
            if (b0 == 0xF0) lo = 0x90;
            if (b0 == 0xF4) hi = 0x8F;
        } else {
            return -1;
        }
        for (int k = 1; k <= need; k++) {
            if (i + k >= to) return -k;
            int c = b[i + k] & 0xFF;
            boolean ok = k == 1 ? c >= lo && c <= hi : c >= 0x80 && c <= 0xBF;
            if (!ok) return -k;
        }
        return need + 1;
    }

    private static int codePoint(byte[] b, int i, int n) {
        int b0 = b[i] & 0xFF;
        return switch (n) {
            case 1 -> b0;
            case 2 -> (b0 & 0x1F) << 6 | b[i + 1] & 0x3F;
            case 3 -> (b0 & 0x0F) << 12 | (b[i + 1] & 0x3F) << 6 | b[i + 2] & 0x3F;
            default -> (b0 & 0x07) << 18 | (b[i + 1] & 0x3F) << 12 | (b[i + 2] & 0x3F) << 6 | b[i + 3] & 0x3F;
        };
    }
}
