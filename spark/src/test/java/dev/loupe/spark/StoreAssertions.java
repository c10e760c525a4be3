package dev.loupe.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.store.StoreManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Two stores are the same: manifest (all but the creation time), the same files, byte for byte. */
public final class StoreAssertions {
    private StoreAssertions() {}

    public static void assertSameStore(Path expected, Path actual) throws IOException {
        StoreManifest a = StoreManifest.read(expected), b = StoreManifest.read(actual);
        assertTrue(a.complete() && b.complete(), "both complete");
        assertEquals(a.model(), b.model());
        assertEquals(a.hooks(), b.hooks());
        assertEquals(a.corpus(), b.corpus());
        assertEquals(a.creation(), b.creation());
        assertEquals(a.rows(), b.rows());
        assertEquals(a.shards(), b.shards(), "shard entries: rows, sequences, sizes, CRC32C of every file");
        List<Path> fa = files(expected), fb = files(actual);
        assertEquals(fa, fb, "the same files, and no leftovers");
        for (Path f : fa.stream()
                .filter(f -> Files.isRegularFile(expected.resolve(f)))
                .toList())
            assertEquals(
                    -1L, Files.mismatch(expected.resolve(f), actual.resolve(f)), f + " differs (first differing byte)");
    }

    private static List<Path> files(Path store) throws IOException {
        try (Stream<Path> s = Files.walk(store.resolve("shards"))) {
            return s.map(store::relativize).sorted().toList();
        }
    }
}
