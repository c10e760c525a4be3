package dev.loupe.bench;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.Folders;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.spark.SparkContexts;
import dev.loupe.spark.cluster.StandaloneCluster;
import dev.loupe.spark.harvest.SparkHarvest;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.HarvestResult;
import dev.loupe.store.harvest.Harvester;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe bench spark-harvest}: the same harvest in one process (its batches on {@code cores}
 * threads), on Spark {@code local[cores]}, and on a standalone cluster of {@code cores} one-core workers
 * on this machine (all equal cores), alternated for {@code rounds} rounds (which goes first alternates too).
 * Reports the best tokens/s of each, Spark's overhead over the single process (the median over rounds of
 * the ratio within a round; goal: at most 15%), checks that each Spark store
 * is the single-process store byte for byte, and projects the harvest to 8-64 executors from what it
 * measured (per-core throughput, executor start and model load, the driver's planning pass and shard
 * commits). Spark contexts and the cluster are started before the timed harvests; their start is
 * reported apart.
 */
public final class SparkHarvestBenchmark {
    private SparkHarvestBenchmark() {}

    /**
     * @param model          "gpt2-small" (random weights of that shape, saved for the executors), a zoo
     *                       name or a model path
     * @param shardSequences sequences per shard (whole batches): the unit of a Spark task
     */
    public record Settings(
            Path out,
            String model,
            String hook,
            int batch,
            int context,
            int sequences,
            int shardSequences,
            int cores,
            int rounds,
            boolean cluster,
            String executorMemory) {}

    public static void run(Settings s) {
        if (s.shardSequences() % s.batch() != 0)
            throw new LoupeException("bench spark-harvest: --shard-sequences must be a multiple of --batch");
        Path out;
        try {
            out = s.out() != null ? s.out() : Files.createTempDirectory("loupe-spark-bench");
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new LoupeException("bench spark-harvest: cannot create the bench folder: " + e.getMessage(), e);
        }
        try {
            measure(s, out);
        } finally {
            if (s.out() == null) deleteTree(out);
        }
    }

    private static void measure(Settings s, Path out) {
        long l0 = System.nanoTime();
        String modelId = s.model();
        HookedTransformer model;
        if (s.model().equals("gpt2-small")) {
            model = HookedTransformer.random(ModelConfig.gpt2Small(), 0);
            modelId = out.resolve("model").toString();
            Checkpoint.save(model, Path.of(modelId)); // executors load it from here
        } else model = ModelLoader.load(s.model());
        double loadSeconds = (System.nanoTime() - l0) / 1e9;
        String hook = s.hook() != null ? s.hook() : "blocks." + (model.config().nLayers() / 2 - 1) + ".hook_resid_post";

        Random r = new Random(0);
        int[] ids = new int[s.sequences() * (s.context() - 1)]; // a BOS starts each sequence
        for (int i = 0; i < ids.length; i++)
            ids[i] = 2 + r.nextInt(model.config().dVocab() - 2);
        Path corpusFile = out.resolve("corpus.npy");
        NpyWriter.write(corpusFile, Nd4j.createFromArray(ids));
        Corpus corpus = Corpus.of(List.of(corpusFile), null, "text", Corpus.TextDocs.LINES);
        int d = model.config().dModel();
        double shardMb = ((double) s.shardSequences() * s.context() * d * 2 + 1) / (1 << 20); // bf16 rows
        HarvestConfig cfg =
                new HarvestConfig(List.of(hook), s.context(), s.batch(), StoreDType.BF16, 0, shardMb, 1, null, 1);
        long tokens = (long) s.sequences() * s.context();
        int shards = (s.sequences() + s.shardSequences() - 1) / s.shardSequences();
        System.out.printf(
                Locale.ROOT,
                "bench spark-harvest: %s, hook %s, %d sequences x %d tokens (%d tokens) in %d shards of %d sequences, "
                        + "batch %d, bf16; %d cores for each; folder %s%n",
                s.model(),
                hook,
                s.sequences(),
                s.context(),
                tokens,
                shards,
                s.shardSequences(),
                s.batch(),
                s.cores(),
                out);

        // Spark allows one context per JVM: first local[N], then the cluster, each alternated with the single process
        Phase localPhase, clusterPhase = null;
        long c0 = System.nanoTime();
        JavaSparkContext local = SparkContexts.start(
                "local[" + s.cores() + "]", "loupe bench local", Map.of("spark.ui.enabled", "false"));
        System.out.printf(
                Locale.ROOT,
                "started: model %.1f s; local[%d] context %.1f s%n",
                loadSeconds,
                s.cores(),
                (System.nanoTime() - c0) / 1e9);
        try {
            localPhase = rounds(s, local, "local[" + s.cores() + "]", model, modelId, corpus, cfg, out);
        } finally {
            local.stop();
        }
        double clusterStart = 0;
        if (s.cluster()) {
            c0 = System.nanoTime();
            try (StandaloneCluster cluster = startCluster(out, s)) {
                JavaSparkContext remote =
                        SparkContexts.start(cluster.masterUrl(), "loupe bench cluster", clusterSettings(s));
                try {
                    // executors start, fetch the jars and load the model: a first harvest of a shard each
                    SparkHarvest.run(
                            remote,
                            model,
                            modelId,
                            corpus,
                            null,
                            cfg.withMaxTokens((long) s.shardSequences() * s.context() * s.cores()),
                            out.resolve("warm-up"),
                            Harvester.ProgressFactory.silent());
                    clusterStart = (System.nanoTime() - c0) / 1e9;
                    System.out.printf(
                            Locale.ROOT,
                            "started: cluster (master, %d one-core workers, executors with the jars and the model) %.1f s%n",
                            s.cores(),
                            clusterStart);
                    clusterPhase = rounds(s, remote, "cluster", model, modelId, corpus, cfg, out);
                } finally {
                    remote.stop();
                }
            }
        }
        Phase last = clusterPhase != null ? clusterPhase : localPhase;
        projection(last.last(), s, tokens, shards, clusterStart, last.single() / s.cores());
        System.out.printf(
                Locale.ROOT,
                "best of %d: local[%d] %.0f tok/s (single %.0f in its rounds)%s%n",
                s.rounds(),
                s.cores(),
                localPhase.spark(),
                localPhase.single(),
                clusterPhase == null
                        ? ""
                        : String.format(
                                Locale.ROOT,
                                ", cluster %.0f tok/s (single %.0f in its rounds)",
                                clusterPhase.spark(),
                                clusterPhase.single()));
        // the ratio of each round (Spark and the single process run back to back), median over the rounds
        System.out.printf(
                Locale.ROOT,
                "spark_local_overhead=%.1f%%%s (goal <= 15%%)  spark_local_vs_single=%.3f%s%n",
                100 * (1 / localPhase.ratio() - 1),
                clusterPhase == null
                        ? ""
                        : String.format(
                                Locale.ROOT, " spark_cluster_overhead=%.1f%%", 100 * (1 / clusterPhase.ratio() - 1)),
                localPhase.ratio(),
                clusterPhase == null
                        ? ""
                        : String.format(Locale.ROOT, "  spark_cluster_vs_single=%.3f", clusterPhase.ratio()));
    }

    /**
     * A phase's rounds: the best tokens/s of the single process and of Spark, the median over rounds of
     * Spark's tokens/s over the single process's in the same round, and the last Spark harvest.
     */
    private record Phase(double single, double spark, double ratio, SparkHarvest.Result last) {}

    /** Rounds of the single process then Spark on {@code sc}. */
    private static Phase rounds(
            Settings s,
            JavaSparkContext sc,
            String name,
            HookedTransformer model,
            String modelId,
            Corpus corpus,
            HarvestConfig cfg,
            Path out) {
        SparkHarvest.Result last = null;
        double bestSingle = 0, bestSpark = 0;
        double[] ratios = new double[s.rounds()];
        for (int round = 0; round < s.rounds(); round++) {
            Path single = out.resolve("single"), spark = out.resolve("spark");
            // which goes first alternates, so that neither always meets the other's leftovers (GC, page cache)
            if (round % 2 == 1)
                last = SparkHarvest.run(
                        sc, model, modelId, corpus, null, cfg, spark, Harvester.ProgressFactory.silent());
            HarvestResult h = Harvester.run(
                    model, modelId, corpus, null, cfg, single, Harvester.ProgressFactory.silent(), s.cores());
            bestSingle = Math.max(bestSingle, h.tokensPerSecond());
            if (round % 2 == 0)
                last = SparkHarvest.run(
                        sc, model, modelId, corpus, null, cfg, spark, Harvester.ProgressFactory.silent());
            bestSpark = Math.max(bestSpark, last.harvest().tokensPerSecond());
            ratios[round] = last.harvest().tokensPerSecond() / h.tokensPerSecond();
            System.out.printf(
                    Locale.ROOT,
                    "%s round %d: single %.0f tok/s, %s %.0f tok/s on %d executor(s), store %s%n",
                    name,
                    round + 1,
                    h.tokensPerSecond(),
                    name,
                    last.harvest().tokensPerSecond(),
                    last.executors().size(),
                    identical(single, spark) ? "identical" : "DIFFERENT");
            deleteTree(single);
            deleteTree(spark);
        }
        Arrays.sort(ratios);
        double median = ratios.length % 2 == 1
                ? ratios[ratios.length / 2]
                : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;
        return new Phase(bestSingle, bestSpark, median, last);
    }

    /**
     * Projects a harvest to 8-64 one-core executors from this run's numbers: the tasks' throughput per
     * core, the driver's planning pass (serial, per sequence) and shard commits (serial, per shard),
     * and the executors' start with the model load (once, in parallel).
     */
    private static void projection(
            SparkHarvest.Result r, Settings s, long tokens, int shards, double startSeconds, double singlePerCore) {
        double perCore = tokens / r.taskSeconds(); // tokens per second of one task on one core
        double planPerSequence = r.planSeconds() / s.sequences();
        double commitPerShard = r.commitSeconds() / shards;
        long shardTokens = (long) s.shardSequences() * s.context();
        System.out.printf(
                Locale.ROOT,
                "measured: %.0f tok/s per core in tasks (single process: %.0f per core), planning %.1f us per sequence, "
                        + "commit %.2f ms per shard, executor start with model %.1f s%n",
                perCore,
                singlePerCore,
                1e6 * planPerSequence,
                1e3 * commitPerShard,
                startSeconds);
        double corpus = 1e9; // projected for a billion tokens
        double sequences = corpus / s.context();
        System.out.println("projection for 1e9 tokens (shards as here; one core per executor):");
        System.out.println("executors   tok/s    hours   bound");
        for (int e : new int[] {8, 16, 32, 64}) {
            double compute = corpus / (e * perCore);
            double plan = sequences * planPerSequence; // the driver chunks the corpus before any task
            double commitCap = shardTokens / Math.max(commitPerShard, 1e-9); // tokens/s the driver can list
            double rate = Math.min(e * perCore, commitCap);
            double total = plan + startSeconds + corpus / rate;
            String bound = e * perCore > commitCap
                    ? "driver commits"
                    : plan > compute * 0.1 ? "compute; planning " + Math.round(100 * plan / total) + "%" : "compute";
            System.out.printf(Locale.ROOT, "%9d %7.0f %8.1f   %s%n", e, corpus / total, total / 3600, bound);
        }
    }

    private static StandaloneCluster startCluster(Path out, Settings s) {
        String installation = System.getProperty("loupe.spark.installation");
        if (installation == null)
            throw new LoupeException("bench spark-harvest: -Dloupe.spark.installation (Spark's jars) is not set; run "
                    + "it through ./loupe, or with --no-cluster");
        List<Path> jars = Arrays.stream(installation.split(File.pathSeparator))
                .map(Path::of)
                .toList();
        String workerMemory = (Integer.parseInt(s.executorMemory().replaceAll("\\D", "")) + 1) + "g";
        return StandaloneCluster.start(out.resolve("cluster"), jars, s.cores(), 1, workerMemory);
    }

    private static Map<String, String> clusterSettings(Settings s) {
        Map<String, String> m = new HashMap<>();
        m.put("spark.driver.host", "127.0.0.1");
        m.put("spark.driver.bindAddress", "127.0.0.1");
        m.put("spark.ui.enabled", "false");
        m.put("spark.executor.memory", s.executorMemory());
        m.put("spark.executor.extraJavaOptions", "-Dorg.bytedeco.javacpp.maxbytes=4G");
        m.put("spark.cores.max", Integer.toString(s.cores()));
        m.put("spark.scheduler.minRegisteredResourcesRatio", "1.0");
        m.put("spark.scheduler.maxRegisteredResourcesWaitingTime", "300s");
        return m;
    }

    /** The two stores hold the same shards: entries and every file's bytes. */
    private static boolean identical(Path a, Path b) {
        StoreManifest ma = StoreManifest.read(a), mb = StoreManifest.read(b);
        if (!ma.shards().equals(mb.shards())) return false;
        try {
            for (StoreManifest.ShardInfo sh : ma.shards())
                for (StoreManifest.FileEntry f : sh.files().values())
                    if (Files.mismatch(a.resolve(f.path()), b.resolve(f.path())) != -1) return false;
        } catch (IOException e) {
            return false;
        }
        return true;
    }

    private static void deleteTree(Path p) {
        Folders.deleteTree(p);
    }
}
