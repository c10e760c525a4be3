package dev.loupe.spark.harvest;

import static dev.loupe.spark.StoreAssertions.assertSameStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.spark.SparkContexts;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A harvest on {@code local[2]} (two task threads, retries allowed) writes the store a single-machine
 * harvest writes, byte for byte; tasks failing mid-shard are retried without a trace in the store.
 */
class SparkHarvestTest {
    static JavaSparkContext sc;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startSpark() {
        sc = SparkContexts.start("local[2,2]", "loupe test", Map.of("spark.ui.enabled", "false"));
    }

    @AfterAll
    static void stopSpark() {
        if (sc != null) sc.stop();
    }

    static final HarvestConfig CFG = new HarvestConfig(
            List.of("resid_post1", "blocks.0.attn.hook_z", "blocks.2.hook_mlp_out"),
            16,
            3,
            StoreDType.BF16,
            0,
            0.02,
            1,
            null,
            1); // 0.02 MiB: shards of 6 sequences (two batches), the last shorter

    static Corpus corpus(Path dir) {
        return Corpus.of(List.of(Fixtures.tokenCorpus(dir, 1500, 97, 3)), null, "text", Corpus.TextDocs.LINES);
    }

    static SparkHarvest.Result spark(HookedTransformer model, Corpus corpus, Path out) {
        return SparkHarvest.run(sc, model, "small", corpus, null, CFG, out, Harvester.ProgressFactory.silent());
    }

    static void failAttempts(int attempts, int afterBatches) {
        sc.setLocalProperty(ShardTasks.FAIL_ATTEMPTS, attempts == 0 ? null : Integer.toString(attempts));
        sc.setLocalProperty(ShardTasks.FAIL_AFTER_BATCHES, attempts == 0 ? null : Integer.toString(afterBatches));
    }

    @Test
    void theStoreIsTheSingleMachineStoreByteForByte() throws Exception {
        HookedTransformer model = Fixtures.smallModel();
        Corpus corpus = corpus(tmp);
        Path single = tmp.resolve("single"), distributed = tmp.resolve("spark");
        Harvester.run(model, "small", corpus, null, CFG, single, Harvester.ProgressFactory.silent());
        SparkHarvest.Result r = spark(model, corpus, distributed);

        StoreManifest m = StoreManifest.read(single);
        assertEquals(100, m.sequences()); // 1500 tokens, 15 per sequence after its BOS
        assertEquals(6, m.creation().shardSequences());
        assertEquals(17, m.shards().size()); // 16 of 6 sequences, one of 4
        assertEquals(17, r.tasks());
        assertEquals(100 * 16, r.harvest().rows());
        assertSameStore(single, distributed);

        // the same command again: complete, nothing to do
        assertEquals(0, spark(model, corpus, distributed).tasks());
    }

    @Test
    void tasksFailingMidShardAreRetriedAndLeaveNoTrace() throws Exception {
        HookedTransformer model = Fixtures.smallModel();
        Corpus corpus = corpus(tmp);
        Path single = tmp.resolve("single"), distributed = tmp.resolve("spark");
        Harvester.run(model, "small", corpus, null, CFG, single, Harvester.ProgressFactory.silent());
        failAttempts(1, 1); // every task's first attempt dies after one batch
        try {
            spark(model, corpus, distributed);
        } finally {
            failAttempts(0, 0);
        }
        assertSameStore(single, distributed); // no partial folder left either
    }

    /** The store after a kill: complete files for every listed shard, each the reference's. */
    static int assertCommittedPrefix(Path reference, Path store) throws Exception {
        StoreManifest ref = StoreManifest.read(reference), part = StoreManifest.read(store);
        assertTrue(!part.complete() && part.shards().size() < ref.shards().size());
        for (StoreManifest.ShardInfo s : part.shards()) {
            assertEquals(ref.shards().get(s.index()), s);
            for (StoreManifest.FileEntry f : s.files().values())
                assertEquals(-1L, Files.mismatch(reference.resolve(f.path()), store.resolve(f.path())), f.path());
        }
        return part.shards().size();
    }

    @Test
    void killingTheDriverAndRunningAgainResumesFromTheManifest() throws Exception {
        HookedTransformer model = Fixtures.smallModel();
        Path corpusFile = Fixtures.tokenCorpus(tmp, 6000, 97, 4); // 400 sequences, 67 shards
        Corpus corpus = Corpus.of(List.of(corpusFile), null, "text", Corpus.TextDocs.LINES);
        Path single = tmp.resolve("single"), distributed = tmp.resolve("spark");
        Harvester.run(model, "small", corpus, null, CFG, single, Harvester.ProgressFactory.silent());

        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("--add-opens") || a.startsWith("-XX:+IgnoreUnrecognized") || a.startsWith("-Djdk.reflect"))
                cmd.add(a);
        cmd.addAll(List.of(
                "-Xmx1g",
                "-cp",
                System.getProperty("java.class.path"),
                HarvestDriverMain.class.getName(),
                "local[2]",
                corpusFile.toString(),
                distributed.toString()));
        Process driver = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("driver.log").toFile())
                .start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            while (committedShards(distributed) < 4 && driver.isAlive() && System.nanoTime() < deadline)
                Thread.sleep(2);
            assertTrue(
                    driver.isAlive(),
                    "the driver ended before it could be killed: " + Files.readString(tmp.resolve("driver.log")));
        } finally {
            driver.destroyForcibly(); // kill -9
            driver.waitFor(30, TimeUnit.SECONDS);
        }
        int committed = assertCommittedPrefix(single, distributed);
        assertTrue(committed >= 4, committed + " shards");
        // what a task killed mid-shard leaves: the next shard half-written (here even under its final name)
        String next = String.format("%05d", committed);
        Path torn = Files.createDirectories(distributed.resolve("shards").resolve(next));
        try (var files = Files.list(single.resolve("shards").resolve(next))) {
            for (Path f : files.toList()) {
                byte[] b = Files.readAllBytes(f);
                Files.write(torn.resolve(f.getFileName().toString()), Arrays.copyOf(b, b.length / 2));
            }
        }
        // a reader sees the committed shards only (checksums of all their data), never the folders the
        // killed tasks were writing
        try (ActivationStore s = ActivationStore.open(distributed, Verify.FULL, ProgressBar.silent())) {
            assertEquals(committed * 6L * 16, s.rows());
            assertEquals(committed * 6L - 1, s.sequences(s.rows() - 1, 1)[0]); // the last row's sequence
        }

        SparkHarvest.Result r = spark(model, corpus, distributed); // the same harvest again
        assertEquals(committed * 6L, r.harvest().resumedFrom());
        assertEquals(67 - committed, r.tasks());
        assertSameStore(single, distributed);
    }

    private static int committedShards(Path store) {
        try {
            return StoreManifest.read(store).shards().size();
        } catch (RuntimeException e) {
            return 0; // not created yet, or being replaced
        }
    }

    @Test
    void aFailedJobSaysWhatTheStoreHoldsAndTheSameCommandResumes() throws Exception {
        HookedTransformer model = Fixtures.smallModel();
        Corpus corpus = corpus(tmp);
        Path single = tmp.resolve("single"), distributed = tmp.resolve("spark");
        Harvester.run(model, "small", corpus, null, CFG, single, Harvester.ProgressFactory.silent());
        failAttempts(2, 0); // local[2,2] tries a task twice: both fail, and so does the job
        LoupeException e;
        try {
            e = assertThrows(LoupeException.class, () -> spark(model, corpus, distributed));
        } finally {
            failAttempts(0, 0);
        }
        assertTrue(
                e.getMessage().contains("failure injected")
                        && e.getMessage().contains("The store is consistent: it holds ")
                        && e.getMessage().contains("Run the same command again to resume"),
                e.getMessage());
        spark(model, corpus, distributed);
        assertSameStore(single, distributed);
        try (var s = Files.list(distributed.resolve("shards"))) {
            assertEquals(17, s.count());
        }
    }
}
