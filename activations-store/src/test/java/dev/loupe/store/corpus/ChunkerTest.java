package dev.loupe.store.corpus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Expected outputs worked out by hand from SAELens's concat_and_batch_sequences. */
class ChunkerTest {
    private static List<int[]> chunks(List<int[]> docs, int ctx, Integer bb, Integer bs, Integer sep) {
        List<int[]> out = new ArrayList<>();
        new Chunker(docs.iterator(), ctx, bb, bs, sep).forEachRemaining(out::add);
        return out;
    }

    @Test
    void saeLensDefaultsBosStartsEachSequenceAndSeparatesDocuments() {
        // BOS = 1: begin_batch=1, begin_sequence=None, separator=1 (prepend_bos=True, sequence_separator_token="bos")
        List<int[]> out = chunks(
                List.of(new int[] {10, 11, 12}, new int[] {20, 21, 22, 23, 24, 25}, new int[] {30}), 5, 1, null, 1);
        assertEquals(3, out.size());
        assertArrayEquals(new int[] {1, 10, 11, 12, 1}, out.get(0)); // the separator fills the last slot
        assertArrayEquals(new int[] {1, 20, 21, 22, 23}, out.get(1)); // the document starts over, after a BOS
        assertArrayEquals(new int[] {1, 24, 25, 1, 30}, out.get(2)); // its rest, a separator, the next document
    }

    @Test
    void aLongDocumentContinuesWithBosAndTheIncompleteTailIsDropped() {
        int[] doc = new int[11];
        for (int i = 0; i < doc.length; i++) doc[i] = 100 + i;
        List<int[]> out = chunks(List.of(doc), 4, 1, null, 1);
        assertEquals(3, out.size());
        assertArrayEquals(new int[] {1, 100, 101, 102}, out.get(0));
        assertArrayEquals(new int[] {1, 103, 104, 105}, out.get(1));
        assertArrayEquals(new int[] {1, 106, 107, 108}, out.get(2)); // 109, 110 dropped
    }

    @Test
    void documentsAlreadyStartingWithBosGetNoSecondBos() {
        List<int[]> out = chunks(List.of(new int[] {1, 5, 6, 7}, new int[] {1, 8, 9, 4}), 4, 1, null, 1);
        assertArrayEquals(new int[] {1, 5, 6, 7}, out.get(0));
        assertArrayEquals(new int[] {1, 8, 9, 4}, out.get(1));
    }

    @Test
    void noSpecialTokensIsPlainConcatenation() {
        List<int[]> out =
                chunks(List.of(new int[] {1, 2, 3}, new int[] {4, 5}, new int[] {6, 7, 8, 9}), 3, null, null, null);
        assertEquals(3, out.size());
        assertArrayEquals(new int[] {1, 2, 3}, out.get(0));
        assertArrayEquals(new int[] {4, 5, 6}, out.get(1));
        assertArrayEquals(new int[] {7, 8, 9}, out.get(2));
    }

    @Test
    void beginSequenceMarksEveryDocument() {
        // begin_batch=None, begin_sequence=2, separator=None
        List<int[]> out = chunks(List.of(new int[] {5, 6}, new int[] {7, 8}), 3, null, 2, null);
        assertEquals(2, out.size());
        assertArrayEquals(new int[] {2, 5, 6}, out.get(0));
        assertArrayEquals(new int[] {2, 7, 8}, out.get(1));
    }

    @Test
    void skipDropsExactlyTheFirstSequences() {
        List<int[]> docs = List.of(new int[] {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
        Chunker c = new Chunker(docs.iterator(), 3, 1, null, 1);
        assertEquals(2, c.skip(2));
        assertArrayEquals(new int[] {1, 7, 8}, c.next());
    }
}
