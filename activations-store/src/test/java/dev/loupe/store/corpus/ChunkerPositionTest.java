package dev.loupe.store.corpus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A chunker resumed at a position it noted produces exactly the sequences that follow there, for
 * every kind of corpus file and across file boundaries: what a distributed harvest's tasks rely on.
 */
class ChunkerPositionTest {
    @TempDir
    Path tmp;

    /** One token per UTF-8 byte (ids 3..258), enough to make documents of varied lengths from text. */
    static final Tokenizer BYTES = new Tokenizer() {
        @Override
        public int[] encode(String text, boolean allowSpecial) {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            int[] ids = new int[b.length];
            for (int i = 0; i < b.length; i++) ids[i] = 3 + (b[i] & 0xFF);
            return ids;
        }

        @Override
        public String decode(int[] ids, boolean skipSpecial) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String tokenString(int id) {
            return Integer.toString(id);
        }

        @Override
        public int vocabSize() {
            return 259;
        }

        @Override
        public OptionalInt bosId() {
            return OptionalInt.of(1);
        }

        @Override
        public OptionalInt eosId() {
            return OptionalInt.of(2);
        }

        @Override
        public OptionalInt padId() {
            return OptionalInt.empty();
        }
    };

    private static String words(Random r, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append((char) ('a' + r.nextInt(26)));
        return b.toString();
    }

    /** Every kind of source in one corpus: text lines (with blank lines), JSONL, 2-D and 1-D .npy. */
    private Corpus mixedCorpus(Corpus.TextDocs docs) throws Exception {
        Random r = new Random(11);
        Path dir = Files.createDirectories(tmp.resolve("corpus-" + docs));
        StringBuilder txt = new StringBuilder();
        for (int i = 0; i < 40; i++) txt.append(i % 7 == 3 ? "\n" : words(r, 1 + r.nextInt(30)) + "\r\n");
        Files.writeString(dir.resolve("a.txt"), txt);
        StringBuilder jsonl = new StringBuilder();
        for (int i = 0; i < 25; i++)
            jsonl.append("{\"text\": \"").append(words(r, 1 + r.nextInt(20))).append("\"}\n");
        Files.writeString(dir.resolve("b.jsonl"), jsonl);
        int[][] rows = new int[9][13];
        for (int[] row : rows) for (int j = 0; j < row.length; j++) row[j] = 3 + r.nextInt(200);
        rows[4][0] = 1; // a document that starts with the BOS
        NpyWriter.write(dir.resolve("c.npy"), Nd4j.createFromArray(rows));
        int[] one = new int[100];
        for (int j = 0; j < one.length; j++) one[j] = 3 + r.nextInt(200);
        NpyWriter.write(dir.resolve("d.npy"), Nd4j.createFromArray(one));
        return Corpus.of(List.of(dir), BYTES, "text", docs);
    }

    private static void assertResumesEverywhere(
            Corpus corpus, int context, Integer bb, Integer bs, Integer sep, int every) {
        List<int[]> all = new ArrayList<>();
        new Chunker(corpus.documents(), context, bb, bs, sep).forEachRemaining(all::add);
        List<Chunker.Position> starts = new ArrayList<>();
        long n = new Chunker(corpus.documents(), context, bb, bs, sep).count(Long.MAX_VALUE, every, starts);
        assertEquals(all.size(), n);
        assertEquals((n + every - 1) / every, starts.size());
        for (int k = 0; k < starts.size(); k++) {
            Chunker c = Chunker.resume(corpus, starts.get(k), context, bb, bs, sep);
            for (int i = k * every; i < all.size(); i++)
                assertArrayEquals(all.get(i), c.next(), "resumed at start " + k + ", sequence " + i);
            assertEquals(false, c.hasNext());
        }
    }

    @Test
    void resumedChunkersContinueExactlyAcrossEveryKindOfFile() throws Exception {
        Corpus lines = mixedCorpus(Corpus.TextDocs.LINES);
        assertResumesEverywhere(lines, 8, 1, null, 1, 3); // SAELens's defaults
        assertResumesEverywhere(lines, 5, 1, 2, 2, 1); // every document marked, EOS between
        assertResumesEverywhere(lines, 7, null, null, null, 2); // plain concatenation
        assertResumesEverywhere(lines, 2, 1, 2, null, 4); // some sequences all prefix: no document token fits
        assertResumesEverywhere(mixedCorpus(Corpus.TextDocs.FILE), 6, 1, null, 1, 5);
    }

    @Test
    void positionIsRefusedWhileASequenceIsReadAhead() throws Exception {
        Chunker c = new Chunker(mixedCorpus(Corpus.TextDocs.LINES).documents(), 8, 1, null, 1);
        c.hasNext();
        assertThrows(IllegalStateException.class, c::position);
    }
}
