package dev.loupe.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where a model's tokenizer is found: {@code --tokenizer}, else the model's folder, else beside a llama2.c .bin. */
public final class ModelTokenizer {
    private ModelTokenizer() {}

    /** {@code explicit} when given, else the model's folder when it holds a tokenizer; null when none. */
    public static Path path(Path explicit, Path model) {
        if (explicit != null) return explicit;
        Path dir = folderOf(model);
        for (String name : new String[] {"tokenizer.json", "vocab.json", "tokenizer.bin"})
            if (Files.isRegularFile(dir.resolve(name))) return dir;
        return null;
    }

    /** The model's folder, or the folder of a model file (a llama2.c .bin). */
    public static Path folderOf(Path model) {
        return Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
    }
}
