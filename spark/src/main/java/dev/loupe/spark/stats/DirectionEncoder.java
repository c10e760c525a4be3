package dev.loupe.spark.stats;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import java.nio.file.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Projections of a hook's rows on directions (a linear probe's weight rows, a difference of means,
 * ...): feature i of a row x is {@code x · directions[i]}, one GEMM per batch.
 *
 * @param directions [features][dIn]
 */
public record DirectionEncoder(String hook, float[][] directions, String name) implements FeatureEncoder {
    public DirectionEncoder {
        if (directions.length == 0) throw new LoupeException("directions: none given");
        for (float[] d : directions)
            if (d.length != directions[0].length)
                throw new LoupeException(
                        "directions: rows of different lengths (" + d.length + ", " + directions[0].length + ")");
    }

    /** Directions from a 2-D .npy file [features, d] (or 1-D: one direction), any float type. */
    public static DirectionEncoder fromNpy(String hook, Path file) {
        INDArray a = NpyReader.read(file).castTo(DataType.FLOAT);
        if (a.rank() == 1) a = a.reshape(1, a.length());
        if (a.rank() != 2)
            throw new LoupeException(
                    file + ": directions must be [features, d], got shape " + java.util.Arrays.toString(a.shape()));
        return new DirectionEncoder(hook, a.toFloatMatrix(), file.getFileName().toString());
    }

    @Override
    public int dIn() {
        return directions[0].length;
    }

    @Override
    public int features() {
        return directions.length;
    }

    @Override
    public INDArray encode(INDArray rows) {
        INDArray w = Nd4j.createFromArray(directions); // [features, dIn]
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows.size(0), directions.length}, 'f');
        Nd4j.gemm(rows, w, out, false, true, 1, 0); // [n, features], f-ordered: one GEMM
        return out;
    }

    @Override
    public String describe() {
        return directions.length + " direction(s) from " + name + " on " + hook;
    }
}
