package dev.loupe.saes.zoo;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.zoo.ZooRecipe;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A token corpus drawn from a zoo task (the data a zoo model was trained on), written as a 2-D int32
 * {@code .npy}, one sequence per row: what {@code ./loupe harvest} reads to store a zoo model's activations
 * on its own kind of input. Deterministic: the same task, count and seed give the same file.
 */
public final class TaskCorpus {
    private TaskCorpus() {}

    /** {@code sequences} sequences of task {@code task} (induction, modadd), seeded; [sequences, length]. */
    public static int[][] sequences(String task, int sequences, long seed) {
        if (sequences < 1) throw new LoupeException("corpus: --sequences must be >= 1, got " + sequences);
        Task t = ZooRecipe.forTask(task).trainingTask();
        Tokens tokens = t.batch(sequences, new SplittableRandom(seed)).tokens();
        if (tokens.padded())
            throw new LoupeException("corpus: task '" + task + "' makes padded sequences; a corpus needs whole ones");
        return tokens.ids();
    }

    public static void write(String task, int sequences, long seed, Path out) {
        NpyWriter.write(out, Nd4j.createFromArray(sequences(task, sequences, seed)));
    }
}
