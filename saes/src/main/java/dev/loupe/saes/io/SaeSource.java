package dev.loupe.saes.io;

import dev.loupe.engine.LoupeException;
import dev.loupe.saes.Sae;
import dev.loupe.saes.zoo.SaeZoo;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where {@code --sae} points: an SAELens folder, {@code hf:<org>/<repo>[@revision]/<folder>} on the Hugging
 * Face Hub (through the cache), or the name of an SAE in Loupe's zoo ({@link SaeZoo#names()}).
 */
public final class SaeSource {
    private SaeSource() {}

    public static Sae load(String spec) {
        if (spec == null || spec.isBlank())
            throw new LoupeException("--sae: expected a folder, hf:org/repo/folder or a zoo name");
        if (spec.startsWith("hf:")) {
            String rest = spec.substring(3);
            int first = rest.indexOf('/'), second = first < 0 ? -1 : rest.indexOf('/', first + 1);
            if (first < 0) throw new LoupeException("--sae " + spec + ": expected hf:<org>/<repo>[@revision]/<folder>");
            String repo = second < 0 ? rest : rest.substring(0, second);
            String folder = second < 0 ? "" : rest.substring(second + 1);
            return SaeHub.load(repo, folder);
        }
        Path p = Path.of(spec);
        if (Files.isDirectory(p)) return SaeLensFolder.read(p);
        if (SaeZoo.names().contains(spec)) return SaeZoo.load(spec);
        throw new LoupeException("--sae " + spec + ": no such folder, and not a zoo SAE ("
                + String.join(", ", SaeZoo.names()) + ") or hf:<org>/<repo>/<folder>");
    }
}
