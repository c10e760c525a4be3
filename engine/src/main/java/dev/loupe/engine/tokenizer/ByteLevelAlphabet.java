package dev.loupe.engine.tokenizer;

import java.io.ByteArrayOutputStream;

/**
 * GPT-2's reversible byte ↔ character map ({@code bytes_to_unicode} in OpenAI's encoder.py): every
 * byte becomes one printable character, so byte-level BPE vocabularies can be stored as text.
 * Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100.. in order (so the
 * space byte 0x20 is {@code Ġ} U+0120 and newline is {@code Ċ} U+010A). All are single UTF-16 chars.
 */
public final class ByteLevelAlphabet {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[0x180];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF;
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevelAlphabet() {}

    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte a byte-level character stands for, or -1 if {@code c} is not one. */
    public static int byteOf(int c) {
        return c >= 0 && c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** The byte-level text of {@code text}'s UTF-8 bytes. */
    public static String encode(String text) {
        byte[] bytes = Utf8.encode(text);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        return new String(out);
    }

    /**
     * Appends the bytes {@code token} stands for. As in Hugging Face's ByteLevel decoder, a token
     * holding any character outside the map (an added token such as {@code <|im_start|>} whose text
     * was never byte-mapped) contributes its own UTF-8 bytes instead.
     */
    public static void appendBytes(String token, ByteArrayOutputStream out) {
        for (int i = 0; i < token.length(); i++) {
            if (byteOf(token.charAt(i)) < 0) {
                out.writeBytes(Utf8.encode(token));
                return;
            }
        }
        for (int i = 0; i < token.length(); i++) out.write(byteOf(token.charAt(i)));
    }
}
