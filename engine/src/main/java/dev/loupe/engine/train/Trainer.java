package dev.loupe.engine.train;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import dev.loupe.engine.progress.ProgressBar;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.ResetPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Trains a model on a {@link Task} with AdamW on the engine's gradients.
 * <pre>{@code
 * TrainingRun run = new Trainer(new InductionTask(512, 64), TrainingConfig.builder().steps(2000).build())
 *         .outputTo(Path.of("runs/induction"))       // checkpoints, history.csv, the final model
 *         .train(modelConfig);                       // fresh weights from the seed, or resumes
 * }</pre>
 * Deterministic on CPU: the initial weights come from the seed and batch {@code s} from
 * (seed, {@code s}), so a run resumed from a checkpoint computes exactly what the uninterrupted run
 * would have. With an output folder, a run resumes from the newest checkpoint there.
 */
public final class Trainer {
    private static final WorkspaceConfiguration STEP_MEMORY = WorkspaceConfiguration.builder()
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policyAllocation(AllocationPolicy.OVERALLOCATE)
            .overallocationLimit(0.2)
            .policyReset(ResetPolicy.BLOCK_LEFT)
            .policySpill(SpillPolicy.REALLOCATE)
            .build();
    private final Task task;
    private final TrainingConfig config;
    private Path out;
    private boolean progress = true;
    private int stopAfter = -1;
    private StepListener listener = (step, row) -> {};
    private int shards = Runtime.getRuntime().availableProcessors();

    /** Told after every step: for live plots in a notebook, or timing. */
    @FunctionalInterface
    public interface StepListener {
        /** {@code row} is the step's history row (step, lr, loss, grad_norm and any evaluation metrics). */
        void stepDone(int step, Map<String, Double> row);
    }

    public Trainer(Task task, TrainingConfig config) {
        this.task = task;
        this.config = config;
    }

    /** Saves checkpoints, {@code history.csv} and the final model in {@code dir}, and resumes from it. */
    public Trainer outputTo(Path dir) {
        this.out = dir;
        return this;
    }

    /** Shows a progress bar on standard error (default on). */
    public Trainer showProgress(boolean on) {
        this.progress = on;
        return this;
    }

    /** Calls {@code l} after every step. */
    public Trainer onStep(StepListener l) {
        this.listener = l;
        return this;
    }

    /**
     * Splits every batch into {@code n} shards of sequences whose gradients are computed in parallel
     * threads and summed (default: one per processor, at most one per sequence). The sum is the
     * whole batch's gradient up to float rounding, always added in the same order: a run is exactly
     * reproducible with the same shard count.
     */
    public Trainer shards(int n) {
        if (n < 1) throw new LoupeException("shards must be >= 1, got " + n);
        this.shards = n;
        return this;
    }

    /**
     * Stops (after checkpointing) once {@code step} steps are done, as if the process had been
     * stopped there: for trying out resumption.
     */
    public Trainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    /**
     * Trains a model of this architecture from fresh weights ({@link Weights#forTraining}, seeded), or
     * resumes from the output folder.
     */
    public TrainingRun train(ModelConfig modelConfig) {
        return train(new HookedTransformer(
                modelConfig, Weights.forTraining(modelConfig, config.seed(), config.initRange())));
    }

    /** Trains {@code initial}'s weights (copied; {@code initial} itself is not changed), or resumes from the output folder. */
    public TrainingRun train(HookedTransformer initial) {
        ModelConfig modelConfig = initial.config();
        task.validate(modelConfig, config.batchSize());
        int start = 0, parts = Math.min(shards, config.batchSize());
        List<Map<String, Double>> history = new ArrayList<>();
        AdamW optimizer;
        Optional<Path> resumeFrom = out == null ? Optional.empty() : TrainingCheckpoint.latest(out);
        if (resumeFrom.isPresent()) {
            Path dir = resumeFrom.get();
            TrainingCheckpoint.State state = TrainingCheckpoint.readState(dir);
            ModelConfig saved = Checkpoint.readConfig(dir);
            if (!saved.equals(modelConfig))
                throw new LoupeException(dir
                        + ": this checkpoint is of another model config; resume with the same model or"
                        + " use another --out folder.\n  checkpoint: " + saved + "\n  requested:  " + modelConfig);
            if (!state.config().equals(config))
                throw new LoupeException(
                        dir + ": this checkpoint was trained with another training config; resume with the"
                                + " same settings or use another --out folder.\n  checkpoint: " + state.config()
                                + "\n  requested:  " + config);
            if (!state.task().equals(task.identity()))
                throw new LoupeException(dir + ": this checkpoint was trained on task '" + state.task() + "', not '"
                        + task.identity() + "'; resume with the same task and data or use another --out folder");
            optimizer = new AdamW(modelConfig, Checkpoint.load(dir).weights());
            TrainingCheckpoint.loadOptimizer(dir, optimizer, state.step());
            start = state.step();
            history.addAll(state.history());
        } else {
            optimizer = new AdamW(modelConfig, initial.weights());
        }
        HookedTransformer model = new HookedTransformer(modelConfig, optimizer.weights());
        int end = stopAfter >= 0 ? Math.min(stopAfter, config.steps()) : config.steps();
        Path lastGood = resumeFrom.orElse(null);
        try (ProgressBar bar = progress
                        ? ProgressBar.onStderr("train " + task.name(), start, config.steps(), "steps")
                        : ProgressBar.silent();
                ShardWorkers workers = new ShardWorkers(parts)) {
            for (int step = start; step < end; step++) {
                Map<String, Double> row = step(model, optimizer, workers, step, lastGood);
                boolean last = step + 1 == config.steps();
                if (last || (config.evalEvery() > 0 && (step + 1) % config.evalEvery() == 0))
                    row.putAll(task.evaluate(model));
                history.add(row);
                if (out != null
                        && (step + 1 == end
                                || (config.checkpointEvery() > 0 && (step + 1) % config.checkpointEvery() == 0)))
                    lastGood = TrainingCheckpoint.save(
                            out,
                            model,
                            optimizer,
                            new TrainingCheckpoint.State(step + 1, task.identity(), config, history),
                            task::writeFiles);
                bar.update(step + 1, String.format(Locale.ROOT, "loss %.4f", row.get("loss")));
                listener.stepDone(step + 1, row);
            }
        }
        TrainingRun run = new TrainingRun(model, task.name(), config, List.copyOf(history));
        if (out != null && end == config.steps()) {
            Checkpoint.save(model, out);
            task.writeFiles(out);
            run.saveHistory(out.resolve("history.csv"));
        }
        return run;
    }

    /** One optimizer step; returns its row of the history (step, lr, loss, grad_norm). */
    private Map<String, Double> step(
            HookedTransformer model, AdamW optimizer, ShardWorkers workers, int step, Path lastGood) {
        TaskBatch batch = task.batch(config.batchSize(), new SplittableRandom(batchSeed(config.seed(), step)));
        if (batch.tokens().length() > model.config().nCtx())
            throw new LoupeException("task '" + task.name() + "' made sequences of "
                    + batch.tokens().length() + " tokens; the model's n_ctx is "
                    + model.config().nCtx());
        checkBatch(batch, model.config().dVocab(), step);
        long positions = Losses.countTargets(batch.targets());
        List<TaskBatch> shardBatches = batch.split(workers.shards());
        // Each shard's objective is its part of the batch mean, so the shards' gradients add up to the batch's.
        List<Double> losses = workers.run((k, turn) -> {
            TaskBatch shard = shardBatches.get(k);
            ForwardRequest request = ForwardRequest.of(shard.tokens())
                    .gradientsOf(o -> Losses.crossEntropy(o.logits(), shard.targets(), positions))
                    .fused(true)
                    .build();
            // Every array of the step lives in a workspace that is reset for the next step. ND4J frees
            // other off-heap memory only when the garbage collector runs, and a training loop's garbage
            // then piles up until JavaCPP forces collections: steps measured several times slower.
            try (MemoryWorkspace ws =
                            Nd4j.getWorkspaceManager().getAndActivateWorkspace(STEP_MEMORY, "loupe-train-step");
                    ForwardResult r = model.forward(request)) {
                turn.await(); // the shards add up their gradients in shard order
                optimizer.addGradients(k, r.weightGrads());
                return r.objective();
            }
        });
        double loss = 0, lr = config.learningRate(step);
        for (double part : losses) loss += part;
        if (!Double.isFinite(loss)) throw diverged("loss is " + loss, step, lastGood);
        double norm;
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(STEP_MEMORY, "loupe-train-step")) {
            norm = optimizer.gradientNorm();
            if (!Double.isFinite(norm)) throw diverged("gradient norm is " + norm, step, lastGood);
            // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
            double scale = config.gradClip() > 0 ? Math.min(1, config.gradClip() / (norm + 1e-6)) : 1;
            optimizer.update(lr, scale, config);
        }
        Map<String, Double> row = new LinkedHashMap<>();
        row.put("step", (double) (step + 1));
        row.put("lr", lr);
        row.put("loss", loss);
        row.put("grad_norm", norm);
        return row;
    }

    /** Here rather than in the model and the loss, which see only a shard and would name a place in the shard. */
    private void checkBatch(TaskBatch batch, int vocab, int step) {
        int[][] ids = batch.tokens().ids(), targets = batch.targets();
        int n = batch.tokens().batch(), len = batch.tokens().length();
        String where = "task '" + task.name() + "', batch of step " + (step + 1) + ": ";
        if (targets.length != n)
            throw new LoupeException(where + targets.length + " rows of targets for " + n + " sequences");
        for (int b = 0; b < n; b++) {
            if (targets[b].length != len)
                throw new LoupeException(
                        where + "target row " + b + " has " + targets[b].length + " positions, the sequences " + len);
            for (int p = 0; p < len; p++) {
                if (batch.tokens().isToken(b, p) && (ids[b][p] < 0 || ids[b][p] >= vocab))
                    throw new LoupeException(where + "token id " + ids[b][p] + " at [" + b + ", " + p
                            + "] is outside the vocabulary of " + vocab);
                int t = targets[b][p];
                if (t != Losses.IGNORE && (t < 0 || t >= vocab))
                    throw new LoupeException(
                            where + "target " + t + " at [" + b + ", " + p + "] is outside the vocabulary of " + vocab
                                    + " (use Losses.IGNORE for positions without a target)");
            }
        }
    }

    private LoupeException diverged(String what, int step, Path lastGood) {
        return new LoupeException("training diverged: " + what + " at step " + (step + 1) + " (task '" + task.name()
                + "'); the weights were not updated. "
                + (lastGood != null ? "The last good checkpoint is " + lastGood : "No checkpoint was saved yet")
                + ". Try a lower learning rate or stronger gradient clipping.");
    }

    /** A well-mixed seed per (run seed, step) (SplitMix64's finaliser), so batches don't depend on order of generation. */
    static long batchSeed(long seed, int step) {
        long z = seed * 0x9E3779B97F4A7C15L + step + 1;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
