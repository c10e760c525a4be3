package dev.loupe.saes.zoo;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Folders;
import dev.loupe.saes.Sae;
import dev.loupe.saes.io.SaeLensFolder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * SAEs shipped inside Loupe, trained by {@code ./loupe sae train} on embedded zoo models (so they need
 * no download): SAELens folders in the jar under {@code dev/loupe/saes/zoo/<name>/}, each with a model
 * card ({@link #card}: recipe, evaluations, CE loss recovered) and its training history.
 */
public final class SaeZoo {
    /** Every zoo SAE. */
    public static final List<String> NAMES = List.of("attn-only-2l-resid0-topk");

    private static final List<String> FILES =
            List.of(SaeLensFolder.CONFIG, SaeLensFolder.WEIGHTS, SaeLensFolder.SPARSITY);

    private SaeZoo() {}

    public static List<String> names() {
        return NAMES;
    }

    /** Loads a zoo SAE by name. */
    public static Sae load(String name) {
        check(name);
        Path dir;
        try {
            dir = Files.createTempDirectory("loupe-sae-zoo-" + name);
            for (String f : FILES)
                try (InputStream in = open(name, f)) {
                    Files.copy(in, dir.resolve(f));
                }
        } catch (IOException e) {
            throw new LoupeException("cannot extract the zoo SAE " + name + ": " + e.getMessage(), e);
        }
        try {
            return SaeLensFolder.read(dir);
        } finally {
            Folders.deleteTree(dir);
        }
    }

    /** The model card (Markdown): the commands that made it, its evaluations. */
    public static String card(String name) {
        return text(name, "MODEL_CARD.md");
    }

    /** The training history as CSV text (step, lr, wait_ms, loss, mse_loss, ..., l0, dead_fraction). */
    public static String history(String name) {
        return text(name, "history.csv");
    }

    private static void check(String name) {
        if (!NAMES.contains(name))
            throw new LoupeException("no zoo SAE named '" + name + "'; the zoo has " + String.join(", ", NAMES));
    }

    private static String text(String name, String file) {
        check(name);
        try (InputStream in = open(name, file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static InputStream open(String name, String file) {
        String resource = "/dev/loupe/saes/zoo/" + name + "/" + file;
        InputStream in = SaeZoo.class.getResourceAsStream(resource);
        if (in == null) throw new LoupeException("the zoo SAE " + name + " lacks " + resource + " (a broken build?)");
        return in;
    }
}
