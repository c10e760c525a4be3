package dev.loupe.spark.cluster;

import static dev.loupe.spark.StoreAssertions.assertSameStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.spark.SparkContexts;
import dev.loupe.spark.harvest.SparkHarvest;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harvest on a real cluster: a Spark standalone master and two workers, each its own JVM on
 * 127.0.0.1, started from Spark's jars alone. Executors get Loupe, ND4J and its native libraries
 * from the driver (spark.jars), load the zoo's attn-only-2l once each, and write a store that is the
 * single-machine store byte for byte; then one worker (and its executor) is killed mid-harvest, and
 * the store still completes, identical.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterHarvestIT {
    @TempDir
    static Path tmp;

    static StandaloneCluster cluster;
    static JavaSparkContext sc;
    static HookedTransformer model;
    static Corpus corpus;
    static Path reference;

    /** 240 sequences of 32 tokens: shards of 8 sequences (two batches), 30 tasks. */
    static final HarvestConfig CFG = new HarvestConfig(
            List.of("resid_post0", "blocks.1.attn.hook_z"), 32, 4, StoreDType.BF16, 0, 0.13, 1, null, 1);

    static List<Path> classpathFile(String name) throws Exception {
        return Arrays.stream(Files.readString(Path.of("target", name)).trim().split(File.pathSeparator))
                .map(Path::of)
                .toList();
    }

    @BeforeAll
    static void startCluster() throws Exception {
        List<Path> spark = new ArrayList<>(classpathFile("spark-classpath.txt"));
        // slf4j-simple, so that the master's, workers' and executors' logs say something when this fails
        spark.add(Path.of(org.slf4j.simple.SimpleLogger.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI()));
        List<String> app = new ArrayList<>();
        try (var s = Files.list(Path.of("target"))) {
            s.filter(p -> p.getFileName().toString().matches("loupe-spark-.*-SNAPSHOT\\.jar"))
                    .forEach(p -> app.add(p.toAbsolutePath().toString()));
        }
        assertEquals(1, app.size(), "the module's jar, packaged before this test: " + app);
        for (Path p : classpathFile("classpath.txt")) app.add(p.toString());
        System.setProperty("loupe.spark.jars", String.join(File.pathSeparator, app));

        long t0 = System.nanoTime();
        cluster = StandaloneCluster.start(tmp.resolve("cluster"), spark, 2, 1, "1g");
        sc = SparkContexts.start(
                cluster.masterUrl(),
                "loupe cluster test",
                Map.of(
                        "spark.driver.host", "127.0.0.1",
                        "spark.driver.bindAddress", "127.0.0.1",
                        "spark.ui.enabled", "false",
                        "spark.executor.memory", "512m",
                        "spark.executor.extraJavaOptions", "-Dorg.bytedeco.javacpp.maxbytes=1G",
                        "spark.cores.max", "2",
                        // wait for both executors before the first task, so that both take part
                        "spark.scheduler.minRegisteredResourcesRatio", "1.0",
                        "spark.scheduler.maxRegisteredResourcesWaitingTime", "240s",
                        "spark.task.maxFailures", "4"));

        long t1 = System.nanoTime();
        model = ModelLoader.load("attn-only-2l");
        corpus = Corpus.of(List.of(Fixtures.tokenCorpus(tmp, 240 * 31, 512, 9)), null, "text", Corpus.TextDocs.LINES);
        reference = tmp.resolve("single-machine");
        Harvester.run(model, "attn-only-2l", corpus, null, CFG, reference, Harvester.ProgressFactory.silent());
        System.err.printf(
                "cluster and context started in %.1f s, single-machine reference harvested in %.1f s%n",
                (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    }

    @AfterAll
    static void stopCluster() {
        if (sc != null) sc.stop();
        if (cluster != null) cluster.close();
    }

    static SparkHarvest.Result harvest(Path out) {
        return SparkHarvest.run(sc, model, "attn-only-2l", corpus, null, CFG, out, Harvester.ProgressFactory.silent());
    }

    @Test
    @Order(1)
    void twoExecutorsWriteTheSingleMachineStoreByteForByte() throws Exception {
        Path out = tmp.resolve("cluster-store");
        SparkHarvest.Result r = harvest(out);
        assertEquals(30, r.tasks());
        assertEquals(2, r.executors().size(), "both executors ran tasks: " + r.executors());
        assertEquals(1, r.maxModelLoads(), "each executor loaded the model once");
        assertSameStore(reference, out);
    }

    @Test
    @Order(2)
    void losingAWorkerMidHarvestStillGivesTheSameStore() throws Exception {
        Path out = tmp.resolve("worker-killed");
        AtomicInteger killedAt = new AtomicInteger(-1); // shards committed when the worker died
        Thread killer = new Thread(() -> {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (System.nanoTime() < deadline) {
                try {
                    int shards = Files.exists(out.resolve(StoreManifest.FILE))
                            ? StoreManifest.read(out).shards().size()
                            : 0;
                    if (shards >= 3) {
                        cluster.killWorker(1); // and its executor, with the tasks it is running
                        killedAt.set(shards);
                        return;
                    }
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    // the manifest is being replaced: read it again
                }
            }
        });
        killer.start();
        SparkHarvest.Result r = harvest(out);
        killer.join();
        assertTrue(
                killedAt.get() >= 3 && killedAt.get() < 30,
                "the worker was killed while the harvest ran: " + killedAt.get() + " shards committed then");
        assertEquals(240, r.harvest().sequences());
        assertSameStore(reference, out); // no partial folder of the lost tasks left either
    }
}
