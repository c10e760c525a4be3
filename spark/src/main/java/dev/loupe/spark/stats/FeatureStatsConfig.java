package dev.loupe.spark.stats;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.loupe.engine.LoupeException;
import java.io.Serializable;

/**
 * What the feature statistics job collects per feature (the defaults are the feature dashboards').
 *
 * @param topK      activating rows kept, largest first
 * @param before    tokens of context before an activating token (within its sequence)
 * @param after     tokens of context after it
 * @param bins      histogram bins over (0, max activation]
 * @param batchRows rows encoded at a time
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record FeatureStatsConfig(int topK, int before, int after, int bins, int batchRows) implements Serializable {
    public FeatureStatsConfig {
        if (topK < 1 || before < 0 || after < 0 || bins < 1 || batchRows < 1)
            throw new LoupeException("feature statistics: --top-k, --bins and the batch must be >= 1 and --before, "
                    + "--after >= 0 (got " + topK + ", " + bins + ", " + batchRows + ", " + before + ", " + after
                    + ")");
    }

    /** 10 top rows with 10 tokens before and 4 after, 40 bins, batches of 4096 rows. */
    public static FeatureStatsConfig defaults() {
        return new FeatureStatsConfig(10, 10, 4, 40, 4096);
    }
}
