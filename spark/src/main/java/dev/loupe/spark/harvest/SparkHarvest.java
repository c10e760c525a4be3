package dev.loupe.spark.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.spark.ExecutorResources;
import dev.loupe.spark.SparkContexts;
import dev.loupe.spark.TaskResults;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.HarvestResult;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.write.StoreWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * A harvest on a Spark cluster that writes the very store {@link Harvester#run} writes on one machine:
 * the same shards, byte for byte. The driver plans: it chunks the corpus once (as the single-machine
 * harvest does to count), noting where each shard's sequences start; each shard is one task. A task
 * (on an executor that loaded the model once) resumes the chunker there, computes the shard's batches,
 * with the same batch boundaries, hooks and dtype as one machine would, writes the shard folder with
 * the store's own {@code ShardBuilder} and publishes it (atomic rename). The driver lists shards in
 * the manifest in corpus order as they arrive; the manifest alone says what the store holds, so a
 * failed, killed or duplicated task never leaves a listed shard missing, and killing the driver and
 * running the same harvest again resumes after the last listed shard (even on one machine).
 */
public final class SparkHarvest {
    private SparkHarvest() {}

    /**
     * What a distributed harvest did: the harvest's result, how many shard tasks ran, how many shards
     * a second copy reached (retries, speculation; {@code differingCopies} of them with other bytes:
     * executors that compute differently), which executors ran tasks, and the most times one of them
     * loaded the model (1: once per executor; 0 when the driver's own model served); and where the
     * time went: the driver's planning pass over the corpus, the tasks' own time (summed), and the
     * driver's listing of shards in the manifest (summed).
     */
    public record Result(
            HarvestResult harvest,
            int tasks,
            int adoptedCopies,
            int differingCopies,
            TreeSet<String> executors,
            int maxModelLoads,
            double planSeconds,
            double taskSeconds,
            double commitSeconds) {}

    /**
     * Starts a Spark context on {@code master} with {@code settings} ({@link SparkContexts#start}),
     * harvests, and stops it: the command line's {@code harvest --spark}.
     */
    public static Result run(
            String master,
            Map<String, String> settings,
            HookedTransformer model,
            String modelId,
            Corpus corpus,
            String tokenizerName,
            HarvestConfig cfg,
            Path out,
            Harvester.ProgressFactory progress) {
        JavaSparkContext sc = SparkContexts.start(master, "loupe harvest " + out, settings);
        try {
            return run(sc, model, modelId, corpus, tokenizerName, cfg, out, progress);
        } finally {
            sc.stop();
        }
    }

    /**
     * Harvests {@code corpus} into {@code out} (a folder every executor reaches) on {@code sc}'s executors.
     * @param modelId how the model is named in the manifest, and how executors load it when the path
     *     it resolves to on the driver does not exist on theirs
     */
    public static Result run(
            JavaSparkContext sc,
            HookedTransformer model,
            String modelId,
            Corpus corpus,
            String tokenizerName,
            HarvestConfig cfg,
            Path out,
            Harvester.ProgressFactory progress) {
        StoreManifest spec = Harvester.spec(model, modelId, corpus, tokenizerName, cfg);
        int shardSequences = spec.creation().shardSequences();
        try (StoreWriter writer = StoreWriter.open(out, spec)) {
            long done = writer.committedSequences();
            if (writer.complete())
                return new Result(
                        new HarvestResult(done, done, writer.manifest().rows(), 0, 0),
                        0,
                        0,
                        0,
                        new TreeSet<>(),
                        0,
                        0,
                        0,
                        0);
            long plan0 = System.nanoTime();
            List<Chunker.Position> starts = new ArrayList<>();
            long total = Harvester.chunker(corpus, cfg).count(Harvester.maxSequences(cfg), shardSequences, starts);
            List<ShardTask> tasks = new ArrayList<>();
            for (int k = writer.manifest().shards().size(); k < starts.size(); k++) {
                long first = (long) k * shardSequences;
                tasks.add(new ShardTask(k, first, (int) Math.min(shardSequences, total - first), starts.get(k)));
            }
            HarvestPlan plan = new HarvestPlan(
                    out.toAbsolutePath().normalize().toString(), writer.manifest(), modelId, localModelPath(modelId));
            if (sc.isLocal()) ExecutorResources.offer(model, spec.model());

            long t0 = System.nanoTime();
            double planSeconds = (t0 - plan0) / 1e9, taskSeconds = 0, commitSeconds = 0;
            int adopted = 0, differing = 0, loads = 0;
            TreeSet<String> executors = new TreeSet<>();
            try (ProgressBar bar = progress.create(done * spec.contextSize(), total * spec.contextSize());
                    TaskResults<ShardOutcome> job = TaskResults.start(
                            sc,
                            tasks,
                            new ShardTasks(plan),
                            ShardOutcome.class,
                            "loupe harvest into " + plan.store())) {
                for (ShardOutcome o = next(job, writer); o != null; o = next(job, writer)) {
                    executors.add(o.executor());
                    if (o.adopted()) adopted++;
                    if (!o.sameBytes()) differing++;
                    loads = Math.max(loads, o.modelLoads());
                    taskSeconds += o.seconds();
                    long c0 = System.nanoTime();
                    writer.commitPublished(o.info()); // in corpus order
                    commitSeconds += (System.nanoTime() - c0) / 1e9;
                    bar.update(
                            writer.committedSequences() * spec.contextSize(),
                            "shard " + o.info().index());
                }
                writer.finish();
                bar.update(writer.committedSequences() * spec.contextSize(), "complete");
            }
            StoreManifest m = writer.manifest();
            HarvestResult r = new HarvestResult(
                    done,
                    m.sequences(),
                    m.rows(),
                    (m.sequences() - done) * m.contextSize(),
                    (System.nanoTime() - t0) / 1e9);
            return new Result(
                    r, tasks.size(), adopted, differing, executors, loads, planSeconds, taskSeconds, commitSeconds);
        }
    }

    /** The model's folder or file as an absolute path, when it is one here (else executors load it by id). */
    private static String localModelPath(String modelId) {
        Path p = Path.of(modelId);
        return Files.exists(p) ? p.toAbsolutePath().normalize().toString() : null;
    }

    /** The next shard in corpus order; a failed job says what the store holds and how to go on. */
    private static ShardOutcome next(TaskResults<ShardOutcome> job, StoreWriter writer) {
        try {
            return job.next();
        } catch (LoupeException e) {
            StoreManifest m = writer.manifest();
            throw new LoupeException(
                    "the harvest on Spark failed: " + e.getMessage() + "\nThe store is consistent: it holds "
                            + m.shards().size() + " committed shards, " + m.rows() + " rows (" + m.sequences()
                            + " sequences). Run the same command again to resume from there.",
                    e);
        }
    }
}
