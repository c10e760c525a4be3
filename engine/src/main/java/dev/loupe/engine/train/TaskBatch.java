package dev.loupe.engine.train;

import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Input tokens and the token each position should predict.
 *
 * @param tokens  [batch, pos] model inputs
 * @param targets [batch][pos] target token per position, {@link Losses#IGNORE} where none counts
 */
public record TaskBatch(Tokens tokens, int[][] targets) {

    /** Next-token prediction at every position (language modelling). */
    public static TaskBatch nextToken(Tokens tokens) {
        return new TaskBatch(tokens, Losses.nextTokenTargets(tokens));
    }

    /** This batch cut into {@code shards} consecutive groups of sequences, as even in size as they can be. */
    public List<TaskBatch> split(int shards) {
        int n = tokens.batch();
        if (shards < 1 || shards > n)
            throw new IllegalArgumentException("cannot split a batch of " + n + " into " + shards + " shards");
        List<TaskBatch> parts = new ArrayList<>();
        for (int k = 0; k < shards; k++) {
            int from = (int) ((long) n * k / shards), to = (int) ((long) n * (k + 1) / shards);
            parts.add(new TaskBatch(tokens.rows(from, to), Arrays.copyOfRange(targets, from, to)));
        }
        return parts;
    }
}
