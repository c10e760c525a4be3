package dev.loupe.engine.generate;

/**
 * Called by {@link Generator} as each token is produced, so that output can be streamed. Tokens
 * arrive in order: step by step, and within a step by increasing batch index; a sequence that has
 * stopped produces no further calls.
 */
@FunctionalInterface
public interface TokenListener {
    /**
     * @param batchIndex the sequence's row in the prompt batch
     * @param token      the new token id
     * @param step       0 for the first generated token, then 1, 2, ...
     */
    void onToken(int batchIndex, int token, int step);

    static TokenListener none() {
        return (b, t, s) -> {};
    }
}
