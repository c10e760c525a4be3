package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import java.util.List;

/**
 * A batch of token sequences. {@code mask[b][p]} is 1 for a real token and 0 for padding; padding
 * may sit on either side, and each sequence gives the same logits as it would alone.
 *
 * @param ids  [batch][pos] token ids
 * @param mask [batch][pos] 1 = token, 0 = padding; null means no padding
 */
public record Tokens(int[][] ids, int[][] mask) {

    public enum Side {
        LEFT,
        RIGHT
    }

    public Tokens {
        if (ids == null || ids.length == 0) throw new LoupeException("tokens: empty batch");
        int len = ids[0].length;
        if (len == 0) throw new LoupeException("tokens: empty sequence");
        for (int b = 0; b < ids.length; b++)
            if (ids[b].length != len)
                throw new LoupeException("tokens: sequence " + b + " has " + ids[b].length + " tokens, sequence 0 has "
                        + len + " (pad with Tokens.padded)");
        if (mask != null) {
            if (mask.length != ids.length)
                throw new LoupeException("tokens: mask has " + mask.length + " rows for " + ids.length + " sequences");
            for (int b = 0; b < mask.length; b++) {
                if (mask[b].length != len)
                    throw new LoupeException(
                            "tokens: mask row " + b + " has length " + mask[b].length + ", expected " + len);
                boolean any = false;
                for (int m : mask[b]) {
                    if (m != 0 && m != 1) throw new LoupeException("tokens: mask values must be 0 or 1, got " + m);
                    any |= m == 1;
                }
                if (!any) throw new LoupeException("tokens: sequence " + b + " is all padding");
            }
        }
    }

    /** Sequences of equal length, no padding. */
    public static Tokens of(int[]... sequences) {
        return new Tokens(sequences, null);
    }

    /** Sequences of any lengths, padded with {@code padId} on one side. */
    public static Tokens padded(List<int[]> sequences, int padId, Side side) {
        int len = sequences.stream().mapToInt(s -> s.length).max().orElse(0);
        int[][] ids = new int[sequences.size()][len], mask = new int[sequences.size()][len];
        for (int b = 0; b < ids.length; b++) {
            int[] s = sequences.get(b);
            int off = side == Side.LEFT ? len - s.length : 0;
            java.util.Arrays.fill(ids[b], padId);
            for (int i = 0; i < s.length; i++) {
                ids[b][off + i] = s[i];
                mask[b][off + i] = 1;
            }
        }
        return new Tokens(ids, mask);
    }

    public int batch() {
        return ids.length;
    }

    public int length() {
        return ids[0].length;
    }

    public boolean padded() {
        return mask != null;
    }

    public boolean isToken(int b, int p) {
        return mask == null || mask[b][p] == 1;
    }

    /** Sequences {@code from} (inclusive) to {@code to} (exclusive) of this batch. */
    public Tokens rows(int from, int to) {
        if (from < 0 || to > batch() || from >= to)
            throw new IllegalArgumentException("rows [" + from + ", " + to + ") of a batch of " + batch());
        return new Tokens(
                java.util.Arrays.copyOfRange(ids, from, to),
                mask == null ? null : java.util.Arrays.copyOfRange(mask, from, to));
    }

    /** Flattened ids, row-major [batch * pos]. */
    public long[] flat() {
        long[] f = new long[batch() * length()];
        for (int b = 0; b < batch(); b++) for (int p = 0; p < length(); p++) f[b * length() + p] = ids[b][p];
        return f;
    }
}
