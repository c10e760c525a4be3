package dev.loupe.store.write;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.store.StoreManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** Several copies of one shard (retried or speculative tasks): the first published wins, the others adopt it. */
class ShardBuilderTest {
    @TempDir
    Path tmp;

    static final StoreManifest SPEC = StoreWriterTest.spec(); // context 4, one hook of d 3

    private ShardBuilder copy(String attempt, float offset) throws IOException {
        ShardBuilder b = ShardBuilder.start(tmp, SPEC, 3, 6, attempt);
        for (int s = 0; s < 2; s++)
            b.append(Map.of("h", Nd4j.rand(DataType.FLOAT, 4, 3).muli(0).addi(s + offset)), new int[][] {{1, 2, 3, 4}});
        return b;
    }

    private long hiddenFolders() throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve(StoreWriter.SHARDS))) {
            return s.filter(p -> p.getFileName().toString().startsWith(".")).count();
        }
    }

    @Test
    void theFirstCopyPublishedWinsAndLaterOnesAdoptIt() throws Exception {
        Files.createDirectories(tmp.resolve(StoreWriter.SHARDS));
        try (ShardBuilder a = copy("a1", 0);
                ShardBuilder b = copy("a2", 0);
                ShardBuilder c = copy("a3", 0.5f)) {
            assertEquals(3, hiddenFolders()); // each copy in its own folder
            ShardBuilder.Published first = b.publish();
            assertFalse(first.adopted());
            assertEquals(3, first.info().index());
            assertEquals(6 * 4, first.info().firstRow());
            assertEquals(2, first.info().sequences());

            ShardBuilder.Published second = a.publish();
            assertTrue(second.adopted() && second.sameBytes());
            assertEquals(first.info(), second.info());

            ShardBuilder.Published third = c.publish(); // computed differently: the copy on disk is described
            assertTrue(third.adopted() && !third.sameBytes());
            assertEquals(first.info(), third.info());
        }
        assertEquals(0, hiddenFolders());
    }

    @Test
    void aFolderInTheWayThatIsNoCopyOfTheShardIsAnError() throws Exception {
        Files.createDirectories(tmp.resolve(StoreWriter.SHARDS).resolve("00003").resolve("in-the-way"));
        try (ShardBuilder a = copy(null, 0)) {
            assertThrows(IOException.class, a::publish);
        }
        assertEquals(0, hiddenFolders());
    }
}
