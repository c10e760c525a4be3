package dev.loupe.saes.dashboard;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;

/**
 * What sae_vis / SAEDashboard show for one feature, as data: how often and how strongly it fires, the
 * contexts it fires most on, examples from each range of its activations, and which tokens its decoder
 * direction promotes and suppresses through the unembedding. Rendered by {@code dev.loupe.viz}; also what
 * the Spark feature statistics job ({@code dev.loupe.spark.stats}) writes per feature, as snake_case JSON.
 *
 * @param feature        the latent index
 * @param density        fraction of the rows seen on which it fired
 * @param maxActivation  its largest activation
 * @param meanActivation its mean activation where it fired
 * @param histogram      its nonzero activations, binned (from a uniform sample of them here; exact counts
 *                       from the Spark job)
 * @param topExamples    the contexts of its largest activations, largest first
 * @param quantiles      examples from equal-width activation intervals, lowest interval first
 * @param topLogits      tokens whose logits {@code W_dec[f] · W_U} raises most (empty when the hook is not
 *                       in the residual stream)
 * @param bottomLogits   tokens it lowers most
 * @param rowsSeen       rows of the store that were encoded
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record FeatureDashboard(
        int feature,
        double density,
        double maxActivation,
        double meanActivation,
        Histogram histogram,
        List<Example> topExamples,
        List<Interval> quantiles,
        List<TokenEffect> topLogits,
        List<TokenEffect> bottomLogits,
        long rowsSeen) {

    /**
     * A context around a row: tokens of its sequence from a few before to a few after, each with this
     * feature's activation; {@code focus} is the index of the row's own token.
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

    /** Examples whose activation lies in [{@code low}, {@code high}). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Interval(double low, double high, long count, List<Example> examples) {}

    /** A token and a value (a logit effect). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record TokenEffect(int token, String text, double value) {}

    /** Bin edges (one more than counts) and counts. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Histogram(double[] edges, long[] counts) {}
}
