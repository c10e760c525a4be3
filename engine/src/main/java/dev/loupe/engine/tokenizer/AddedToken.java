package dev.loupe.engine.tokenizer;

/**
 * A token matched in the text before the model sees it (Hugging Face's {@code added_tokens}):
 * control tokens such as {@code <|endoftext|>} or {@code <s>} ({@code special}), and added words
 * such as GPT-NeoX's runs of spaces (not special: always matched).
 *
 * @param lstrip     the match swallows whitespace on its left
 * @param rstrip     the match swallows whitespace on its right
 * @param singleWord only matched when not inside a word
 * @param normalized matched in the normalized text (else in the raw text)
 */
public record AddedToken(
        int id,
        String content,
        boolean special,
        boolean lstrip,
        boolean rstrip,
        boolean singleWord,
        boolean normalized) {

    /** A special token matched in the raw text, as control tokens usually are. */
    public static AddedToken special(int id, String content) {
        return new AddedToken(id, content, true, false, false, false, false);
    }
}
