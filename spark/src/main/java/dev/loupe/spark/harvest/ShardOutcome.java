package dev.loupe.spark.harvest;

import dev.loupe.store.StoreManifest;
import java.io.Serializable;

/**
 * What a task reports to the driver: the published shard's manifest entry; whether another copy of it
 * (a speculative or retried attempt) was in place first and kept, and then whether the two had the same
 * bytes; where and how fast it ran, and how many times that executor had loaded the model (once).
 */
public record ShardOutcome(
        StoreManifest.ShardInfo info,
        boolean adopted,
        boolean sameBytes,
        String executor,
        double seconds,
        int modelLoads)
        implements Serializable {}
