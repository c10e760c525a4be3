package dev.loupe.spark.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.spark.SparkContexts;
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
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.apache.spark.api.java.JavaSparkContext;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.BoxedUnit;

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
     * loaded the model (1: once per executor; 0 when the driver's own model served).
     */
    public record Result(
            HarvestResult harvest,
            int tasks,
            int adoptedCopies,
            int differingCopies,
            TreeSet<String> executors,
            int maxModelLoads) {}

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
                        new HarvestResult(done, done, writer.manifest().rows(), 0, 0), 0, 0, 0, new TreeSet<>(), 0);
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
            int adopted = 0, differing = 0, loads = 0;
            TreeSet<String> executors = new TreeSet<>();
            try (ProgressBar bar = progress.create(done * spec.contextSize(), total * spec.contextSize());
                    Job job = Job.start(sc, plan, tasks)) {
                TreeMap<Integer, ShardOutcome> waiting = new TreeMap<>();
                int next = writer.manifest().shards().size();
                for (ShardOutcome o = job.next(writer); o != null; o = job.next(writer)) {
                    waiting.put(o.info().index(), o);
                    executors.add(o.executor());
                    if (o.adopted()) adopted++;
                    if (!o.sameBytes()) differing++;
                    loads = Math.max(loads, o.modelLoads());
                    for (ShardOutcome s = waiting.remove(next); s != null; s = waiting.remove(next)) {
                        writer.commitPublished(s.info());
                        next++;
                        bar.update(writer.committedSequences() * spec.contextSize(), "shard " + next);
                    }
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
            return new Result(r, tasks.size(), adopted, differing, executors, loads);
        }
    }

    /** The model's folder or file as an absolute path, when it is one here (else executors load it by id). */
    private static String localModelPath(String modelId) {
        Path p = Path.of(modelId);
        return Files.exists(p) ? p.toAbsolutePath().normalize().toString() : null;
    }

    /**
     * The Spark job of one harvest, on a thread of its own: {@code runJob} blocks until every task
     * succeeded, and hands each task's result over as it arrives, in any order.
     */
    private static final class Job implements AutoCloseable {
        private static final Object DONE = new Object();
        private final BlockingQueue<Object> results = new LinkedBlockingQueue<>();
        private final JavaSparkContext sc;
        private final Thread thread;
        private final String group;
        private boolean finished;

        private Job(JavaSparkContext sc, HarvestPlan plan, List<ShardTask> tasks) {
            this.sc = sc;
            this.group = "loupe-harvest-" + System.nanoTime();
            List<Object> partitions = new ArrayList<>();
            for (int i = 0; i < tasks.size(); i++) partitions.add(i);
            this.thread = new Thread(
                    () -> {
                        try {
                            sc.setJobGroup(group, "loupe harvest into " + plan.store(), true);
                            sc.sc()
                                    .runJob(
                                            sc.parallelize(tasks, Math.max(1, tasks.size()))
                                                    .rdd(),
                                            new ShardTasks(plan),
                                            CollectionConverters.asScala(partitions)
                                                    .toSeq(),
                                            (scala.Function2<Object, ShardOutcome, BoxedUnit>) (i, o) -> {
                                                results.add(o);
                                                return BoxedUnit.UNIT;
                                            },
                                            ClassTag$.MODULE$.apply(ShardOutcome.class));
                            results.add(DONE);
                        } catch (Throwable t) {
                            results.add(t);
                        }
                    },
                    "loupe-spark-harvest");
            thread.setDaemon(true);
        }

        static Job start(JavaSparkContext sc, HarvestPlan plan, List<ShardTask> tasks) {
            Job j = new Job(sc, plan, tasks);
            if (tasks.isEmpty()) j.results.add(DONE);
            else j.thread.start();
            return j;
        }

        /** The next task's result; null once all succeeded. A failed job is a LoupeException saying what the store holds. */
        ShardOutcome next(StoreWriter writer) {
            Object r;
            try {
                r = results.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LoupeException("harvest interrupted", e);
            }
            if (r == DONE) {
                finished = true;
                return null;
            }
            if (r instanceof Throwable t) {
                finished = true;
                StoreManifest m = writer.manifest();
                throw new LoupeException(
                        "the harvest on Spark failed: " + summary(t) + "\nThe store is consistent: it holds "
                                + m.shards().size() + " committed shards, " + m.rows() + " rows (" + m.sequences()
                                + " sequences). Run the same command again to resume from there.",
                        t);
            }
            return (ShardOutcome) r;
        }

        /** Spark's "job aborted" message up to its stack traces: it names the task, executor and cause. */
        private static String summary(Throwable t) {
            String m = String.valueOf(t.getMessage());
            int cut = m.indexOf("\n\tat ");
            int driver = m.indexOf("\nDriver stacktrace");
            if (driver >= 0 && (cut < 0 || driver < cut)) cut = driver;
            return (cut >= 0 ? m.substring(0, cut) : m).strip();
        }

        /** Cancels the job when the driver stops early (a failed commit, an interrupt). */
        @Override
        public void close() {
            if (!finished) sc.cancelJobGroup(group);
            try {
                thread.join(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
