package dev.loupe.spark.stats;

import java.io.Serializable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Turns a hook's rows into feature activations: raw neurons ({@link NeuronEncoder}), projections on
 * directions such as a probe's ({@link DirectionEncoder}), or an SAE's latents ({@link SaeEncoder}). A
 * feature fires on a
 * row when its activation is above zero. Serializable: Spark ships it to the executors (keep it small:
 * an encoder with large weights should load them on the executor, once).
 */
public interface FeatureEncoder extends Serializable {
    /** The store hook whose rows it reads (full name). */
    String hook();

    /** The row width it expects. */
    int dIn();

    /** How many features it has. */
    int features();

    /** Rows [n, dIn] float32 to activations [n, features] float32. */
    INDArray encode(INDArray rows);

    /** What it is, for the output's header ("neurons of blocks.0.hook_resid_post"). */
    String describe();
}
