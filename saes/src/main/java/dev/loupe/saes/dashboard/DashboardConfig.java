package dev.loupe.saes.dashboard;

import dev.loupe.engine.LoupeException;

/**
 * What feature dashboards collect.
 *
 * @param topExamples         contexts of the largest activations
 * @param intervals           equal-width activation intervals for quantile examples (sae_vis uses 10)
 * @param examplesPerInterval examples shown per interval
 * @param before              tokens of context before the activating token
 * @param after               tokens of context after it
 * @param bins                histogram bins
 * @param maxRows             rows of the store to encode (0: all)
 * @param batchRows           rows encoded at a time
 * @param sample              nonzero activations kept per feature (uniform reservoir) for the histogram and intervals
 * @param logitTokens         tokens listed for the top and bottom logit effects
 * @param seed                seeds the reservoir sampling
 */
public record DashboardConfig(
        int topExamples,
        int intervals,
        int examplesPerInterval,
        int before,
        int after,
        int bins,
        long maxRows,
        int batchRows,
        int sample,
        int logitTokens,
        long seed) {
    public DashboardConfig {
        if (topExamples < 1
                || intervals < 1
                || examplesPerInterval < 0
                || before < 0
                || after < 0
                || bins < 1
                || maxRows < 0
                || batchRows < 1
                || sample < 1
                || logitTokens < 0)
            throw new LoupeException(
                    "dashboard config: counts must be positive (got " + topExamples + " examples, " + intervals
                            + " intervals, " + bins + " bins, " + batchRows + " batch rows, " + sample + " samples)");
    }

    /** 10 top examples, 5 intervals of 3, 10 tokens before and 4 after, 40 bins, the whole store. */
    public static DashboardConfig defaults() {
        return new DashboardConfig(10, 5, 3, 10, 4, 40, 0, 4096, 20_000, 10, 0);
    }

    public DashboardConfig withMaxRows(long rows) {
        return new DashboardConfig(
                topExamples,
                intervals,
                examplesPerInterval,
                before,
                after,
                bins,
                rows,
                batchRows,
                sample,
                logitTokens,
                seed);
    }

    public DashboardConfig withExamples(int top, int intervals, int perInterval) {
        return new DashboardConfig(
                top, intervals, perInterval, before, after, bins, maxRows, batchRows, sample, logitTokens, seed);
    }
}
