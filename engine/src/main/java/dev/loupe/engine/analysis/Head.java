package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One attention head, written {@code L1H4} as TransformerLens labels heads. */
public record Head(int layer, int head) {
    private static final Pattern LABEL = Pattern.compile("L(\\d+)H(\\d+)");

    public Head {
        if (layer < 0 || head < 0)
            throw new LoupeException("head: layer and head must be >= 0, got L" + layer + "H" + head);
    }

    public static Head of(int layer, int head) {
        return new Head(layer, head);
    }

    /** From a label such as {@code "L0H3"}. */
    public static Head parse(String label) {
        Matcher m = LABEL.matcher(label.trim());
        if (!m.matches()) throw new LoupeException("head: '" + label + "' is not a head label like L0H3");
        return new Head(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }

    @Override
    public String toString() {
        return "L" + layer + "H" + head;
    }
}
