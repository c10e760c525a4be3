package dev.loupe.saes;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * SAELens's SAE architectures, by the name {@code cfg.json} gives them ({@code "architecture"}).
 * {@link #BATCHTOPK} exists only while training: SAELens saves a trained BatchTopK SAE as a
 * {@link #JUMPRELU} SAE whose threshold is the learned batch threshold.
 */
public enum Architecture {
    STANDARD("standard"),
    TOPK("topk"),
    BATCHTOPK("batchtopk"),
    JUMPRELU("jumprelu"),
    GATED("gated");

    private final String saeLensName;

    Architecture(String saeLensName) {
        this.saeLensName = saeLensName;
    }

    /** The name in SAELens's {@code cfg.json}. */
    public String saeLensName() {
        return saeLensName;
    }

    /** The architecture named {@code name} in a {@code cfg.json} or on the command line ({@code relu} = standard). */
    public static Architecture parse(String name, String where) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("relu")) return STANDARD;
        for (Architecture a : values()) if (a.saeLensName.equals(n)) return a;
        throw new LoupeException(where + ": unknown SAE architecture '" + name + "'; known: "
                + Arrays.stream(values()).map(Architecture::saeLensName).collect(Collectors.joining(", "))
                + " (and relu = standard)");
    }
}
