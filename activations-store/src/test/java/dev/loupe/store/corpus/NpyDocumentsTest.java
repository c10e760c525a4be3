package dev.loupe.store.corpus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

class NpyDocumentsTest {
    @TempDir
    Path tmp;

    private static List<int[]> all(Iterator<int[]> it) {
        List<int[]> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void twoDimensionalFilesAreOneDocumentPerRowInEitherIntWidth() throws Exception {
        long[][] ids = {{5, 6, 7}, {8, 9, 10}, {11, 12, 13}};
        for (DataType t : new DataType[] {DataType.INT, DataType.LONG}) {
            Path p = tmp.resolve("ids-" + t + ".npy");
            NpyWriter.write(p, Nd4j.createFromArray(ids).castTo(t));
            try (NpyDocuments docs = new NpyDocuments(p)) {
                List<int[]> got = all(docs);
                assertEquals(3, got.size());
                for (int r = 0; r < 3; r++)
                    assertArrayEquals(new int[] {(int) ids[r][0], (int) ids[r][1], (int) ids[r][2]}, got.get(r));
                assertFalse(docs.hasNext());
            }
        }
    }

    @Test
    void aOneDimensionalFileIsOneDocumentReadInChunks() throws Exception {
        int n = 5_000_000; // 20 MB: more than one positional read
        Path p = tmp.resolve("stream.npy");
        NpyWriter.write(p, Nd4j.arange(n).castTo(DataType.INT));
        try (NpyDocuments docs = new NpyDocuments(p)) {
            int[] doc = docs.next();
            assertEquals(n, doc.length);
            assertEquals(0, doc[0]);
            assertEquals(4_194_304, doc[4_194_304]); // first id of the second chunk
            assertEquals(n - 1, doc[n - 1]);
            assertFalse(docs.hasNext());
        }
    }

    @Test
    void badTokenFilesAreRefusedNamingTheFileAndThePlace() {
        Path floats = tmp.resolve("floats.npy");
        NpyWriter.write(floats, Nd4j.createFromArray(new float[] {1, 2}));
        LoupeException e = assertThrows(LoupeException.class, () -> new NpyDocuments(floats));
        assertTrue(
                e.getMessage().contains(floats + ": token ids must be int32 or int64, the file holds float"),
                e.getMessage());

        Path cube = tmp.resolve("cube.npy");
        NpyWriter.write(cube, Nd4j.zeros(DataType.INT, 2, 2, 2));
        e = assertThrows(LoupeException.class, () -> new NpyDocuments(cube));
        assertTrue(
                e.getMessage().contains("1-D (one document) or 2-D")
                        && e.getMessage().contains("[2, 2, 2]"),
                e.getMessage());

        Path negative = tmp.resolve("negative.npy");
        NpyWriter.write(negative, Nd4j.createFromArray(new long[][] {{1, 2}, {3, -4}}));
        try (NpyDocuments docs = new NpyDocuments(negative)) {
            docs.next();
            e = assertThrows(LoupeException.class, docs::next);
            assertTrue(
                    e.getMessage().contains(negative + ": token ids must be in 0..")
                            && e.getMessage().contains("found -4 in document 1 at token 1"),
                    e.getMessage());
        } catch (java.io.IOException io) {
            throw new AssertionError(io);
        }
    }
}
