package dev.loupe.engine.tokenizer;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face normalizer: rewrites text before pre-tokenization. Offsets are not tracked (Loupe
 * needs ids, not alignments). Each implementation is named as its {@code "type"} in tokenizer.json.
 */
interface Normalizer {

    String apply(String text);

    Normalizer NONE = text -> text;

    /** {@code Sequence}: each in turn. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        @Override
        public String apply(String text) {
            for (Normalizer n : steps) text = n.apply(text);
            return text;
        }
    }

    /** {@code Prepend}: adds {@code prefix} in front of non-empty text (SentencePiece's dummy prefix). */
    record Prepend(String prefix) implements Normalizer {
        @Override
        public String apply(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /** {@code Replace}: every match of a literal or regex pattern becomes {@code content}. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        @Override
        public String apply(String text) {
            return pattern.matcher(text).replaceAll(Matcher.quoteReplacement(content));
        }
    }

    /** {@code NFC}, {@code NFD}, {@code NFKC}, {@code NFKD}. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String apply(String text) {
            return java.text.Normalizer.normalize(text, form);
        }
    }

    /** {@code Lowercase}. */
    record Lowercase() implements Normalizer {
        @Override
        public String apply(String text) {
            return text.toLowerCase(Locale.ROOT);
        }
    }

    /** {@code Strip}: removes leading and/or trailing whitespace. */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String apply(String text) {
            int s = 0, e = text.length();
            if (left)
                while (s < e && Chars.isWhiteSpace(text.codePointAt(s))) s += Character.charCount(text.codePointAt(s));
            if (right)
                while (e > s && Chars.isWhiteSpace(text.codePointBefore(e)))
                    e -= Character.charCount(text.codePointBefore(e));
            return text.substring(s, e);
        }
    }
}
