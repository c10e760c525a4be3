package dev.loupe.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A Hugging Face pre-tokenizer: cuts normalized text into the words the model encodes one by one
 * (and may rewrite them, as ByteLevel and Metaspace do). Each implementation is named as its
 * {@code "type"} in tokenizer.json and follows that implementation in {@code tokenizers}.
 */
interface PreTokenizer {

    /**
     * A word. {@code atStart}: it begins at offset 0 of the text being encoded (what Metaspace's
     * {@code prepend_scheme: "first"} looks at).
     */
    record Piece(String text, boolean atStart) {}

    /** The words of one piece. */
    List<Piece> split(Piece piece);

    default List<Piece> apply(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>();
        for (Piece p : pieces) out.addAll(split(p));
        return out;
    }

    /**
     * GPT-2's pre-tokenization regex, as OpenAI's encoder.py and HF's ByteLevel use it. Java with
     * UNICODE_CHARACTER_CLASS gives {@code \s} the Unicode White_Space meaning of Python's
     * {@code regex} and Rust's regex crates; {@code \p{L}} and {@code \p{N}} are general categories.
     */
    String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Compiles a tokenizer.json regex with the flags that match Python/Rust Unicode semantics. */
    static Pattern compile(String regex) {
        return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    }

    Pattern GPT2 = compile(GPT2_PATTERN);

    private static List<Piece> pieces(Piece parent, String text, List<Splitter.Span> spans) {
        List<Piece> out = new ArrayList<>(spans.size());
        for (Splitter.Span s : spans)
            out.add(new Piece(text.substring(s.start(), s.end()), parent.atStart() && s.start() == 0));
        return out;
    }

    /** {@code ByteLevel}: optional prefix space, optional GPT-2 regex split, then bytes → characters. */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            String text = piece.text();
            if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
            List<Piece> words = useRegex
                    ? pieces(piece, text, Splitter.split(Splitter.regexMatches(GPT2, text), Splitter.Behavior.ISOLATED))
                    : List.of(new Piece(text, piece.atStart()));
            List<Piece> out = new ArrayList<>(words.size());
            for (Piece w : words) out.add(new Piece(ByteLevelAlphabet.encode(w.text()), w.atStart()));
            return out;
        }
    }

    /** {@code Split}: cuts at matches of a regex (or a literal string) with a delimiter behaviour. */
    record Split(Pattern pattern, Splitter.Behavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            List<int[]> matches = Splitter.regexMatches(pattern, piece.text());
            if (invert) Splitter.invert(matches);
            return pieces(piece, piece.text(), Splitter.split(matches, behavior));
        }
    }

    enum PrependScheme {
        ALWAYS,
        FIRST,
        NEVER
    }

    /** {@code Metaspace}: spaces become {@code replacement} (▁), a prefix is added, words start at ▁. */
    record Metaspace(int replacement, PrependScheme scheme, boolean splitWords) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            String rep = new String(Character.toChars(replacement));
            String text = piece.text().replace(" ", rep);
            boolean prepend =
                    switch (scheme) {
                        case ALWAYS -> !text.startsWith(rep);
                        case FIRST -> !text.startsWith(rep) && piece.atStart();
                        case NEVER -> false;
                    };
            if (prepend) text = rep + text;
            if (!splitWords) return List.of(new Piece(text, piece.atStart()));
            return pieces(
                    piece,
                    text,
                    Splitter.split(
                            Splitter.charMatches(cp -> cp == replacement, text), Splitter.Behavior.MERGED_WITH_NEXT));
        }
    }

    /** {@code Digits}: numbers apart from the rest, each digit alone if {@code individual}. */
    record Digits(boolean individual) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            return pieces(
                    piece,
                    piece.text(),
                    Splitter.split(
                            Splitter.charMatches(Chars::isNumeric, piece.text()),
                            individual ? Splitter.Behavior.ISOLATED : Splitter.Behavior.CONTIGUOUS));
        }
    }

    /** {@code Sequence}: each pre-tokenizer applied to every piece the previous one produced. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            return apply(List.of(piece));
        }

        @Override
        public List<Piece> apply(List<Piece> pieces) {
            for (PreTokenizer p : steps) pieces = p.apply(pieces);
            return pieces;
        }
    }
}
