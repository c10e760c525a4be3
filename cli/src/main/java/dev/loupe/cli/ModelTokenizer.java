package dev.loupe.cli;

import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.zoo.Zoo;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a model's tokenizer is found: {@code --tokenizer} (a path, or an embedded zoo model's name),
 * else the model's own: an embedded text model's, the model's folder's, or one beside a llama2.c .bin.
 */
public final class ModelTokenizer {
    private ModelTokenizer() {}

    /** A tokenizer and where it came from (a path, or {@code zoo:<name>}). */
    public record Found(Tokenizer tokenizer, String source) {}

    /** The tokenizer at {@code path}, or the tokenizer of the embedded zoo model of that name. */
    public static Tokenizer load(Path path) {
        return isZooName(path) ? Zoo.tokenizer(path.toString()) : Tokenizers.load(path);
    }

    /** {@code explicit} when given, else the model's own tokenizer; null when there is none. */
    public static Found find(Path explicit, Path model) {
        if (explicit != null)
            return new Found(
                    load(explicit),
                    isZooName(explicit)
                            ? "zoo:" + explicit
                            : explicit.toAbsolutePath().normalize().toString());
        if (isZooName(model))
            return Zoo.hasTokenizer(model.toString())
                    ? new Found(Zoo.tokenizer(model.toString()), "zoo:" + model)
                    : null;
        Path dir = folderOf(model);
        return Tokenizers.hasTokenizer(dir)
                ? new Found(
                        Tokenizers.load(dir), dir.toAbsolutePath().normalize().toString())
                : null;
    }

    /** The model's folder, or the folder of a model file (a llama2.c .bin). */
    public static Path folderOf(Path model) {
        return Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
    }

    /** A name of the embedded zoo that is not also a file or folder here. */
    static boolean isZooName(Path p) {
        return !Files.exists(p) && Zoo.NAMES.contains(p.toString());
    }
}
