package dev.loupe.spark.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.spark.ExecutorResources;
import dev.loupe.spark.TaskResults;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestWorkers;
import dev.loupe.store.write.ShardBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

/**
 * The executors' side of a distributed harvest: a task computes one shard with the harvest's own
 * code (the chunker resumed at the shard's first sequence, {@link HarvestWorkers} for the forward
 * passes, {@link ShardBuilder} for the files) and publishes its folder; the driver lists it.
 */
public final class ShardTasks implements TaskResults.Task<ShardTask, ShardOutcome> {
    /**
     * For tests, a job's local properties ({@code sc.setLocalProperty}): a task's attempts numbered
     * below {@code FAIL_ATTEMPTS} fail after {@code FAIL_AFTER_BATCHES} batches, as a task dying
     * mid-shard would.
     */
    public static final String FAIL_ATTEMPTS = "loupe.test.failAttempts",
            FAIL_AFTER_BATCHES = "loupe.test.failAfterBatches";

    private final HarvestPlan plan;

    public ShardTasks(HarvestPlan plan) {
        this.plan = plan;
    }

    @Override
    public ShardOutcome run(TaskContext context, ShardTask task) {
        String where = "executor " + SparkEnv.get().executorId() + " (" + host() + ")";
        // unique per attempt and per application, so that no two copies of a shard share a folder
        String attempt = "t" + context.taskAttemptId() + "-"
                + Integer.toHexString(SparkEnv.get().conf().getAppId().hashCode());
        String failAttempts = context.getLocalProperty(FAIL_ATTEMPTS);
        int failAfter = failAttempts != null && context.attemptNumber() < Integer.parseInt(failAttempts)
                ? Integer.parseInt(context.getLocalProperty(FAIL_AFTER_BATCHES))
                : -1;
        try {
            return run(task, attempt, where, context.cpus(), failAfter);
        } catch (IOException e) {
            throw new UncheckedIOException(where + ": shard " + task.shard() + ": " + e.getMessage(), e);
        }
    }

    /** Computes and publishes the task's shard on {@code threads} threads. */
    ShardOutcome run(ShardTask task, String attempt, String where, int threads, int failAfterBatches)
            throws IOException {
        long t0 = System.nanoTime();
        StoreManifest spec = plan.spec();
        HookedTransformer model = ExecutorResources.model(plan, where);
        Corpus corpus = plan.corpus(ExecutorResources.tokenizer(plan), where);
        StoreManifest.CorpusInfo c = spec.corpus();
        Chunker chunks = Chunker.resume(
                corpus,
                task.start(),
                spec.contextSize(),
                c.beginBatchToken(),
                c.beginSequenceToken(),
                c.separatorToken());
        try (ShardBuilder shard =
                ShardBuilder.start(Path.of(plan.store()), spec, task.shard(), task.firstSequence(), attempt)) {
            int[] batches = {0};
            new HarvestWorkers(model, spec.hookNames(), spec.creation().stopAtLayer())
                    .run(
                            HarvestWorkers.batches(chunks, spec.creation().batchSize(), task.sequences()),
                            task.firstSequence(),
                            threads,
                            (acts, ids) -> {
                                if (batches[0]++ == failAfterBatches)
                                    throw new IOException("failure injected by " + FAIL_ATTEMPTS);
                                shard.append(acts, ids);
                            });
            if (shard.sequences() != task.sequences())
                throw new LoupeException(where + ": shard " + task.shard() + " should hold " + task.sequences()
                        + " sequences from sequence " + task.firstSequence() + ", the corpus gave "
                        + shard.sequences() + " (corpus files changed since the harvest was planned?)");
            ShardBuilder.Published p = shard.publish();
            return new ShardOutcome(
                    p.info(),
                    p.adopted(),
                    p.sameBytes(),
                    where,
                    (System.nanoTime() - t0) / 1e9,
                    ExecutorResources.modelLoads());
        }
    }

    private static String host() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "unknown host";
        }
    }
}
