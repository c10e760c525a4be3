package dev.loupe.engine.tokenizer;

/**
 * Character classes with the meaning Rust and Python tokenizers give them, which
 * {@link Character#isWhitespace} does not have (it leaves out no-break spaces and counts the
 * U+001C..U+001F separators).
 */
final class Chars {
    private Chars() {}

    /** The Unicode White_Space property: Rust's {@code char::is_whitespace}, regex {@code \s}. */
    static boolean isWhiteSpace(int cp) {
        return cp >= 0x09 && cp <= 0x0D
                || cp == 0x20
                || cp == 0x85
                || cp == 0xA0
                || cp == 0x1680
                || cp >= 0x2000 && cp <= 0x200A
                || cp == 0x2028
                || cp == 0x2029
                || cp == 0x202F
                || cp == 0x205F
                || cp == 0x3000;
    }

    /** Rust's {@code char::is_numeric}: general categories Nd, Nl and No. */
    static boolean isNumeric(int cp) {
        int t = Character.getType(cp);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }
}
