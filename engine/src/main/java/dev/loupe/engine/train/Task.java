package dev.loupe.engine.train;

import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A stream of training batches, and optionally how to evaluate a model on held-out data. Define one
 * in a notebook cell as a lambda:
 * <pre>{@code
 * Task copyFirst = (batchSize, rng) -> { ... return new TaskBatch(tokens, targets); };
 * }</pre>
 * The trainer hands each step an {@code rng} seeded from (run seed, step), so a task that draws all
 * its randomness from it yields the same batches in a resumed run as in an uninterrupted one.
 */
@FunctionalInterface
public interface Task {

    /** One training batch of {@code batchSize} sequences. */
    TaskBatch batch(int batchSize, SplittableRandom rng);

    /** A short name for checkpoints and model cards. */
    default String name() {
        return "custom";
    }

    /**
     * What identifies this task's data, stored with every checkpoint: a run resumes only from a
     * checkpoint of the same identity (a text task: its corpus's SHA-256 and its tokenizer).
     * Default: {@link #name()}.
     */
    default String identity() {
        return name();
    }

    /**
     * Writes the files a model trained on this task needs beside its weights (a text task's
     * tokenizer) into {@code modelDir}; called whenever the trainer saves a model. Default: none.
     */
    default void writeFiles(java.nio.file.Path modelDir) {}

    /**
     * Metrics on held-out data (test loss, accuracy, ...), in a stable order; empty when the task
     * has none. Called every {@link TrainingConfig#evalEvery()} steps.
     */
    default Map<String, Double> evaluate(HookedTransformer model) {
        return Map.of();
    }

    /** Throws a {@link dev.loupe.engine.LoupeException} when this task cannot train that model with that batch size. */
    default void validate(ModelConfig model, int batchSize) {}
}
