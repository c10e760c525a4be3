package dev.loupe.engine.train;

import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.Tokens;

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
}
