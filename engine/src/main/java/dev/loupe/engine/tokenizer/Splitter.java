package dev.loupe.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cutting text at pattern matches with one of Hugging Face's five delimiter behaviours
 * ({@code NormalizedString::split}). For {@code the-final--countdown} split on {@code -}:
 * <ul>
 *   <li>REMOVED: {@code the, final, countdown}</li>
 *   <li>ISOLATED: {@code the, -, final, -, -, countdown}</li>
 *   <li>MERGED_WITH_PREVIOUS: {@code the-, final-, -, countdown}</li>
 *   <li>MERGED_WITH_NEXT: {@code the, -final, -, -countdown}</li>
 *   <li>CONTIGUOUS: {@code the, -, final, --, countdown}</li>
 * </ul>
 * Empty pieces are dropped.
 */
final class Splitter {

    enum Behavior {
        REMOVED,
        ISOLATED,
        MERGED_WITH_PREVIOUS,
        MERGED_WITH_NEXT,
        CONTIGUOUS
    }

    /** A piece of the split text: chars [start, end). */
    record Span(int start, int end) {}

    private Splitter() {}

    /** [start, end, isMatch] triples covering the text: regex matches and the gaps between them. */
    static List<int[]> regexMatches(Pattern pattern, String text) {
        List<int[]> out = new ArrayList<>();
        if (text.isEmpty()) {
            out.add(new int[] {0, 0, 0});
            return out;
        }
        Matcher m = pattern.matcher(text);
        int prev = 0;
        while (m.find()) {
            if (prev != m.start()) out.add(new int[] {prev, m.start(), 0});
            out.add(new int[] {m.start(), m.end(), 1});
            prev = m.end();
        }
        if (prev != text.length()) out.add(new int[] {prev, text.length(), 0});
        return out;
    }

    /** Every code point for which {@code matches} holds is one match. */
    static List<int[]> charMatches(IntPredicate matches, String text) {
        List<int[]> out = new ArrayList<>();
        if (text.isEmpty()) {
            out.add(new int[] {0, 0, 0});
            return out;
        }
        int last = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int end = i + Character.charCount(cp);
            if (matches.test(cp)) {
                if (last < i) out.add(new int[] {last, i, 0});
                out.add(new int[] {i, end, 1});
                last = end;
            }
            i = end;
        }
        if (last < text.length()) out.add(new int[] {last, text.length(), 0});
        return out;
    }

    /** Non-overlapping occurrences of a literal string (none for the empty string). */
    static List<int[]> literalMatches(String literal, String text) {
        if (literal.isEmpty()) {
            List<int[]> out = new ArrayList<>();
            out.add(new int[] {0, text.length(), 0});
            return out;
        }
        return regexMatches(Pattern.compile(Pattern.quote(literal)), text);
    }

    static void invert(List<int[]> matches) {
        for (int[] m : matches) m[2] = 1 - m[2];
    }

    /** The pieces {@code behavior} makes of the matches. */
    static List<Span> split(List<int[]> matches, Behavior behavior) {
        // each entry: start, end, remove
        List<int[]> acc = new ArrayList<>();
        switch (behavior) {
            case ISOLATED -> {
                for (int[] m : matches) acc.add(new int[] {m[0], m[1], 0});
            }
            case REMOVED -> {
                for (int[] m : matches) acc.add(new int[] {m[0], m[1], m[2]});
            }
            case CONTIGUOUS -> {
                boolean previous = false;
                for (int[] m : matches) {
                    boolean match = m[2] == 1;
                    if (match == previous && !acc.isEmpty()) acc.get(acc.size() - 1)[1] = m[1];
                    else acc.add(new int[] {m[0], m[1], 0});
                    previous = match;
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean previous = false;
                for (int[] m : matches) {
                    boolean match = m[2] == 1;
                    if (match && !previous && !acc.isEmpty()) acc.get(acc.size() - 1)[1] = m[1];
                    else acc.add(new int[] {m[0], m[1], 0});
                    previous = match;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean previous = false;
                for (int k = matches.size() - 1; k >= 0; k--) {
                    int[] m = matches.get(k);
                    boolean match = m[2] == 1;
                    if (match && !previous && !acc.isEmpty()) acc.get(acc.size() - 1)[0] = m[0];
                    else acc.add(new int[] {m[0], m[1], 0});
                    previous = match;
                }
                java.util.Collections.reverse(acc);
            }
        }
        List<Span> out = new ArrayList<>(acc.size());
        for (int[] a : acc) if (a[2] == 0 && a[0] != a[1]) out.add(new Span(a[0], a[1]));
        return out;
    }
}
