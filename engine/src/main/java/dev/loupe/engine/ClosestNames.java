package dev.loupe.engine;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** "Did you mean" for unknown names (tensors, hooks, weights): the known names closest by edit distance. */
public final class ClosestNames {

    private static final int MAX_COMPARED_LENGTH = 256;

    private ClosestNames() {}

    /** Up to {@code limit} of {@code names}, closest to {@code wanted} first. */
    public static List<String> closest(String wanted, Collection<String> names, int limit) {
        return names.stream()
                .sorted(Comparator.comparingInt((String n) -> distance(wanted, n))
                        .thenComparing(n -> n))
                .limit(limit)
                .toList();
    }

    /** Levenshtein distance over at most the first 256 characters of each string (bounded cost). */
    public static int distance(String a, String b) {
        a = a.length() > MAX_COMPARED_LENGTH ? a.substring(0, MAX_COMPARED_LENGTH) : a;
        b = b.length() > MAX_COMPARED_LENGTH ? b.substring(0, MAX_COMPARED_LENGTH) : b;
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(substitute, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
