package dev.loupe.engine.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Finds added tokens in text, as Hugging Face's {@code AddedVocabulary} does: leftmost-longest
 * matching, first of the tokens matched in the raw text, then (in each normalized remaining piece)
 * of those matched after normalization. A match that is rejected (a special token while special
 * tokens are not allowed, a single-word token inside a word) is consumed all the same, so a shorter
 * token overlapping it is not looked for — the same as HF.
 */
final class AddedVocabulary {

    /** A stretch of text, or (id >= 0) one added token. {@code start} is its offset in the text split. */
    record Segment(String text, int id, int start) {
        boolean isToken() {
            return id >= 0;
        }
    }

    private record Candidate(String pattern, AddedToken token) {}

    private final Map<Character, List<Candidate>> raw = new HashMap<>();
    private final Map<Character, List<Candidate>> normalized = new HashMap<>();
    private final boolean hasRaw, hasNormalized;

    AddedVocabulary(List<AddedToken> tokens, UnaryOperator<String> normalizer) {
        for (AddedToken t : tokens) {
            if (t.content().isEmpty()) continue;
            String pattern = t.normalized() ? normalizer.apply(t.content()) : t.content();
            if (pattern.isEmpty()) continue;
            (t.normalized() ? normalized : raw)
                    .computeIfAbsent(pattern.charAt(0), k -> new ArrayList<>())
                    .add(new Candidate(pattern, t));
        }
        Comparator<Candidate> longestFirst = Comparator.comparingInt((Candidate c) -> -c.pattern.length());
        raw.values().forEach(l -> l.sort(longestFirst));
        normalized.values().forEach(l -> l.sort(longestFirst));
        hasRaw = !raw.isEmpty();
        hasNormalized = !normalized.isEmpty();
    }

    boolean hasRaw() {
        return hasRaw;
    }

    boolean hasNormalized() {
        return hasNormalized;
    }

    /** Splits {@code text} on the raw ({@code normalizedPass == false}) or normalized tokens. */
    List<Segment> split(String text, boolean normalizedPass, boolean allowSpecial) {
        Map<Character, List<Candidate>> set = normalizedPass ? normalized : raw;
        List<Segment> out = new ArrayList<>();
        int startOffset = 0;
        int i = 0;
        while (i < text.length()) {
            List<Candidate> cands = set.get(text.charAt(i));
            Candidate hit = null;
            if (cands != null)
                for (Candidate c : cands)
                    if (text.startsWith(c.pattern, i)) {
                        hit = c;
                        break;
                    }
            if (hit == null) {
                i++;
                continue;
            }
            int start = i, stop = i + hit.pattern.length();
            i = stop;
            AddedToken t = hit.token;
            if (start < startOffset) continue; // inside what a previous rstrip swallowed
            if (t.special() && !allowSpecial) continue;
            if (t.singleWord()
                    && (start > 0 && isWordChar(text.codePointBefore(start))
                            || stop < text.length() && isWordChar(text.codePointAt(stop)))) continue;
            if (t.lstrip()) {
                int s = start;
                while (s > 0 && Chars.isWhiteSpace(text.codePointBefore(s)))
                    s -= Character.charCount(text.codePointBefore(s));
                start = Math.max(s, startOffset);
            }
            if (t.rstrip()) {
                while (stop < text.length() && Chars.isWhiteSpace(text.codePointAt(stop)))
                    stop += Character.charCount(text.codePointAt(stop));
            }
            if (startOffset < start) out.add(new Segment(text.substring(startOffset, start), -1, startOffset));
            out.add(new Segment(text.substring(start, stop), t.id(), start));
            startOffset = stop;
            i = Math.max(i, stop);
        }
        if (startOffset < text.length() || out.isEmpty())
            out.add(new Segment(text.substring(startOffset), -1, startOffset));
        return out;
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_' || Character.getType(cp) == Character.NON_SPACING_MARK;
    }
}
