package dev.loupe.store.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.write.StoreWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class ShuffledStreamTest {
    @TempDir
    Path tmp;

    /** A store whose row r is (r, r, ..., r): exact in bf16 for r < 256, in f32 for any row here. */
    static Path syntheticStore(Path dir, StoreDType dtype, int sequences, int context, int d, int shardSequences) {
        StoreManifest spec = StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic", "-", "-", 0, d, 0),
                List.of(new StoreManifest.HookInfo("h", d)),
                dtype,
                context,
                new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                new StoreManifest.CreationInfo(1, shardSequences, 0, 0, "test"));
        try (StoreWriter w = StoreWriter.open(dir, spec)) {
            for (int s = 0; s < sequences; s++) {
                INDArray rows = Nd4j.arange(s * context, (s + 1) * context)
                        .castTo(DataType.FLOAT)
                        .reshape(context, 1)
                        .repeat(1, d); // [context, d]
                w.append(Map.of("h", rows), new int[][] {new int[context]});
            }
            w.finish();
        }
        return dir;
    }

    private static List<Long> drain(ShuffledStream s, int d, List<Integer> sizes) {
        List<Long> ids = new ArrayList<>();
        while (s.hasNext()) {
            INDArray b = s.next();
            assertEquals(DataType.FLOAT, b.dataType());
            assertEquals(d, b.size(1));
            sizes.add((int) b.size(0));
            for (int i = 0; i < b.size(0); i++) {
                long id = (long) b.getFloat(i, 0);
                assertEquals(id, (long) b.getFloat(i, d - 1)); // rows arrive whole
                ids.add(id);
            }
        }
        return ids;
    }

    @Test
    void everyRowOncePerEpochInAShuffledSeededOrderWithABoundedBuffer() {
        Path dir = syntheticStore(tmp.resolve("s"), StoreDType.F32, 50, 20, 6, 7); // 1000 rows, 8 shards
        try (ActivationStore store = ActivationStore.open(dir)) {
            assertEquals(1000, store.rows());
            ShuffleConfig cfg = new ShuffleConfig(64, 100, 42, 2, 16);
            List<Integer> sizes = new ArrayList<>();
            List<Long> ids;
            try (ShuffledStream s = store.shuffled("h", cfg)) {
                assertEquals(100L * 8, s.bufferBytes()); // 100 row numbers, whatever d
                ids = drain(s, 6, sizes);
            }
            assertEquals(2000, ids.size());
            for (int e = 0; e < 2; e++) {
                List<Long> epoch = new ArrayList<>(ids.subList(e * 1000, (e + 1) * 1000));
                List<Long> sorted = new ArrayList<>(epoch);
                sorted.sort(null);
                for (int i = 0; i < 1000; i++) assertEquals(i, sorted.get(i), "epoch " + e);
                assertNotEquals(sorted, epoch, "shuffled");
                int displaced = 0;
                for (int i = 0; i < 1000; i++) if (Math.abs(epoch.get(i) - i) > 100) displaced++;
                assertTrue(displaced > 500, "rows move far from their place: " + displaced);
            }
            assertEquals(List.of(64, 40, 64), sizes.subList(14, 17)); // 1000 = 15*64 + 40: epochs do not mix
            assertNotEquals(ids.subList(0, 1000), ids.subList(1000, 2000));

            List<Long> again;
            try (ShuffledStream s = store.shuffled("h", cfg)) {
                again = drain(s, 6, new ArrayList<>());
            }
            assertEquals(ids, again, "same seed, same stream");
            try (ShuffledStream s = store.shuffled("h", new ShuffleConfig(64, 100, 43, 1, 16))) {
                assertNotEquals(ids.subList(0, 1000), drain(s, 6, new ArrayList<>()));
            }
        }
    }

    @Test
    void bf16RowsComeBackAsFloat32AndTheBufferNeverExceedsTheStore() {
        Path dir = syntheticStore(tmp.resolve("b"), StoreDType.BF16, 10, 20, 4, 3); // 200 rows < 256: exact in bf16
        try (ActivationStore store = ActivationStore.open(dir);
                ShuffledStream s = store.shuffled("h", ShuffleConfig.of(33, 1_000_000, 0))) {
            assertEquals(200L * 8, s.bufferBytes()); // capped at the store's 200 rows
            List<Long> ids = drain(s, 4, new ArrayList<>());
            ids.sort(null);
            for (int i = 0; i < 200; i++) assertEquals(i, ids.get(i));
        }
    }
}
