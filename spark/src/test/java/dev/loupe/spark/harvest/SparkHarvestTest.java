package dev.loupe.spark.harvest;

import static dev.loupe.spark.StoreAssertions.assertSameStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.spark.SparkContexts;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
