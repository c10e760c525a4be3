package dev.loupe.engine.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** File-tree chores shared by the writers of folders (checkpoints, temporary extractions). */
public final class Folders {
    private Folders() {}

    /** Deletes a file or a folder and everything in it, as far as it can; a missing path is fine. */
    public static void deleteTree(Path path) {
        if (!Files.exists(path)) return;
        try (Stream<Path> s = Files.walk(path)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException ignored) {
                    // best effort: what is left is never read as valid
                }
            });
        } catch (IOException ignored) {
            // best effort, as above
        }
    }
}
