package dev.loupe.store.write;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class StoreWriterTest {
    @TempDir
    Path tmp;

    static final int CONTEXT = 4, D = 3;

    static StoreManifest spec() {
        return spec(StoreDType.F32);
    }

    static StoreManifest spec(StoreDType dtype) {
        return StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic", "-", "-", 0, D, 0),
                List.of(new StoreManifest.HookInfo("h", D)),
                dtype,
                CONTEXT,
                new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                new StoreManifest.CreationInfo(1, 2, 0, 0, "test"));
    }

    static void appendSequence(StoreWriter w, int s) {
        INDArray rows = Nd4j.arange(s * CONTEXT, (s + 1) * CONTEXT)
                .castTo(DataType.FLOAT)
                .reshape(CONTEXT, 1)
                .repeat(1, D);
        w.append(Map.of("h", rows), new int[][] {new int[CONTEXT]});
    }

    /** A shard is a safetensors file whose header (reserved up front, rewritten at the end) reads as before. */
    @Test
    void aShardsHeaderIsTheSafetensorsWritersPaddedToTheReservedLength() throws Exception {
        Path dir = tmp.resolve("h");
        try (StoreWriter w = StoreWriter.open(dir, spec())) {
            for (int s = 0; s < 2; s++) appendSequence(w, s);
            w.finish();
        }
        StoreManifest.FileEntry f =
                StoreManifest.read(dir).shards().get(0).files().get("h");
        byte[] bytes = Files.readAllBytes(dir.resolve(f.path()));
        long headerLength = java.nio.ByteBuffer.wrap(bytes, 0, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getLong();
        assertEquals(f.dataOffset() - 8, headerLength);
        assertEquals(0, headerLength % 8);
        String header = new String(bytes, 8, (int) headerLength, java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(
                "{\"__metadata__\":{\"format\":\"" + StoreManifest.FORMAT
                        + "\"},\"activations\":{\"dtype\":\"F32\",\"shape\":[8,3],\"data_offsets\":[0,96]}}",
                header.stripTrailing());
        assertEquals(bytes.length, 8 + headerLength + 96);
    }

    /** Commits run in the background; finish waits for them, and the store holds every row in order. */
    @Test
    void backgroundCommitsKeepShardOrderAndFinishWaitsForThem() {
        Path dir = tmp.resolve("s");
        try (StoreWriter w = StoreWriter.open(dir, spec())) {
            for (int s = 0; s < 7; s++) appendSequence(w, s); // shards of 2 sequences: 3 full + 1 short
            w.finish();
            assertEquals(0, w.pendingSequences());
        }
        try (ActivationStore store = ActivationStore.open(dir, Verify.FULL, ProgressBar.silent())) {
            assertEquals(4, store.manifest().shards().size());
            assertEquals(7 * CONTEXT, store.rows());
            for (int r = 0; r < store.rows(); r++)
                assertEquals(r, store.row("h", r).getFloat(D - 1));
        }
    }

    /** A commit that fails on the commit thread is reported by the next call, and the store stays consistent. */
    @Test
    void aFailedBackgroundCommitIsReportedAndTheStoreResumes() throws Exception {
        Path dir2 = tmp.resolve("g");
        try (StoreWriter w = StoreWriter.open(dir2, spec())) {
            appendSequence(w, 0);
            appendSequence(w, 1); // shard 0 commits fine
            Files.createDirectories(
                    dir2.resolve(StoreWriter.SHARDS).resolve("00001").resolve("in-the-way"));
            appendSequence(w, 2);
            appendSequence(w, 3); // shard 1: its rename will fail
            LoupeException e = assertThrows(LoupeException.class, w::finish);
            assertTrue(
                    e.getMessage().contains("writing shard 1 failed (" + dir2.resolve("shards"))
                            && e.getMessage().contains("00001"),
                    e.getMessage());
            assertTrue(
                    e.getMessage().contains("it holds 1 committed shards, " + 2 * CONTEXT + " rows (2 sequences)"),
                    e.getMessage());
        }
        try (ActivationStore store = ActivationStore.open(dir2, Verify.FULL, ProgressBar.silent())) {
            assertEquals(2 * CONTEXT, store.rows());
        }
        try (StoreWriter w = StoreWriter.open(dir2, spec())) { // resume: the obstacle is an unlisted folder, removed
            assertEquals(2, w.committedSequences());
            for (int s = 2; s < 5; s++) appendSequence(w, s);
            w.finish();
        }
        try (ActivationStore store = ActivationStore.open(dir2, Verify.FULL, ProgressBar.silent())) {
            assertEquals(5 * CONTEXT, store.rows());
            for (int r = 0; r < store.rows(); r++)
                assertEquals(r, store.row("h", r).getFloat(0));
        }
    }

    /**
     * Each row's min and max are recorded as stored (bf16: after rounding), NaN for a row holding a
     * NaN, and {@code valueRange} combines them over rows spanning shards as a pass over the rows does.
     */
    @Test
    void eachRowsMinAndMaxAreRecordedAsStored() {
        for (StoreDType dtype : List.of(StoreDType.F32, StoreDType.BF16)) {
            Path dir = tmp.resolve("bounds-" + dtype.label());
            java.util.Random random = new java.util.Random(3);
            try (StoreWriter w = StoreWriter.open(dir, spec(dtype))) {
                for (int s = 0; s < 5; s++) { // shards of 2 sequences
                    float[] v = new float[CONTEXT * D];
                    for (int i = 0; i < v.length; i++) v[i] = (float) random.nextGaussian() * 1000;
                    if (s == 3) v[D + 1] = Float.NaN; // sequence 3, row 1
                    w.append(Map.of("h", Nd4j.createFromArray(v).reshape(CONTEXT, D)), new int[][] {new int[CONTEXT]});
                }
                w.finish();
            }
            try (ActivationStore store = ActivationStore.open(dir)) {
                int nanRow = 3 * CONTEXT + 1;
                for (int from = 0; from < store.rows(); from++)
                    for (int count = 1; from + count <= store.rows(); count += 3) {
                        float[] x = store.rows("h", from, count).data().asFloat();
                        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
                        for (float f : x) {
                            min = Math.min(min, f);
                            max = Math.max(max, f);
                        }
                        ActivationStore.ValueRange r = store.valueRange("h", from, count);
                        boolean nan = from <= nanRow && nanRow < from + count;
                        assertEquals(nan, r.hasNaN(), dtype + " rows " + from + "+" + count);
                        if (!nan) {
                            assertEquals(min, r.min(), dtype + " rows " + from + "+" + count);
                            assertEquals(max, r.max(), dtype + " rows " + from + "+" + count);
                        }
                    }
            }
        }
    }
}
