package dev.loupe.spark.stats;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;

/**
 * One feature's statistics over a store, in the feature dashboards' layout (the saes module's
 * {@code FeatureDashboard}, field for field, snake_case in JSON), so that the dashboards read these
 * files as they are. Everything is over the rows where the feature fires (activation above zero).
 *
 * @param feature        the feature's index
 * @param density        fraction of the store's rows on which it fires
 * @param maxActivation  its largest activation (0 if it never fires)
 * @param meanActivation its mean activation where it fires
 * @param histogram      its activations where it fires, in equal bins over (0, max]; exact counts
 * @param topExamples    the rows of its largest activations, largest first (ties: earlier row first), each
 *                       with its context window
 * @param quantiles      examples per activation interval: not collected by this job (empty)
 * @param topLogits      logit effects: not collected by this job (empty)
 * @param bottomLogits   likewise
 * @param rowsSeen       rows of the store that were encoded
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record FeatureStats(
        int feature,
        double density,
        double maxActivation,
        double meanActivation,
        Histogram histogram,
        List<Example> topExamples,
        List<Object> quantiles,
        List<Object> topLogits,
        List<Object> bottomLogits,
        long rowsSeen) {

    /**
     * A row and its context: the tokens of its sequence from {@code before} ahead to {@code after}
     * later, each with this feature's activation; {@code focus} indexes the row's own token.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Example(
            long row,
            long sequence,
            int position,
            double activation,
            List<String> tokens,
            double[] activations,
            int focus) {}

    /** Bin edges (one more than counts) and counts. */
    public record Histogram(double[] edges, long[] counts) {}
}
