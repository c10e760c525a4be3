package dev.loupe.spark.stats;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A hook's raw neurons as features: all of them, or the ones listed (feature i is neuron
 * {@code neurons[i]}).
 */
public record NeuronEncoder(String hook, int dIn, int[] neurons) implements FeatureEncoder {
    public NeuronEncoder {
        if (neurons != null)
            for (int n : neurons)
                if (n < 0 || n >= dIn)
                    throw new LoupeException("neuron " + n + " is outside the hook " + hook + "'s 0.." + (dIn - 1));
    }

    /** Every neuron of a hook of width {@code d}. */
    public static NeuronEncoder all(String hook, int d) {
        return new NeuronEncoder(hook, d, null);
    }

    @Override
    public int features() {
        return neurons == null ? dIn : neurons.length;
    }

    @Override
    public INDArray encode(INDArray rows) {
        return neurons == null ? rows : rows.getColumns(neurons);
    }

    @Override
    public String describe() {
        return (neurons == null ? "neurons" : "neurons " + Arrays.toString(neurons)) + " of " + hook;
    }
}
