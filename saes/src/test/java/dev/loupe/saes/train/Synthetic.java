package dev.loupe.saes.train;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Ground truth for SAEs: rows that are sparse sums of known unit directions plus a little noise, as in
 * the toy models SAEs are validated on (Sharkey et al.).
 */
public final class Synthetic {
    public final INDArray directions; // [n_directions, d], unit rows
    public final INDArray rows; // [n, d]

    /**
     * {@code n} rows in dimension {@code d} from {@code count} random unit directions; each direction is
     * active in a row with probability {@code active / count}, with a magnitude uniform in [0.5, 1.5];
     * plus Gaussian noise of {@code noise} times the typical row norm per coordinate.
     */
    public Synthetic(int n, int d, int count, double active, double noise, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] dirs = new float[count * d];
        for (int i = 0; i < count; i++) {
            double norm = 0;
            for (int j = 0; j < d; j++) {
                double g = gaussian(rng);
                dirs[i * d + j] = (float) g;
                norm += g * g;
            }
            for (int j = 0; j < d; j++) dirs[i * d + j] /= (float) Math.sqrt(norm);
        }
        float[] x = new float[n * d];
        double p = active / count, rowScale = Math.sqrt(active);
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < count; i++)
                if (rng.nextDouble() < p) {
                    double m = 0.5 + rng.nextDouble();
                    for (int j = 0; j < d; j++) x[r * d + j] += (float) (m * dirs[i * d + j]);
                }
            for (int j = 0; j < d; j++) x[r * d + j] += (float) (noise * rowScale / Math.sqrt(d) * gaussian(rng));
        }
        directions = Nd4j.create(dirs, new long[] {count, d}, 'c');
        rows = Nd4j.create(x, new long[] {n, d}, 'c');
    }

    private static double gaussian(SplittableRandom rng) {
        return StrictMath.sqrt(-2 * StrictMath.log(1 - rng.nextDouble()))
                * StrictMath.cos(2 * StrictMath.PI * rng.nextDouble());
    }

    /** Mean over true directions of the best |cosine| with a row of {@code decoder} [d_sae, d]. */
    public double recovery(INDArray decoder) {
        INDArray dec = decoder.castTo(DataType.DOUBLE);
        dec = dec.divColumnVector(dec.norm2(1).addi(1e-12).reshape(dec.size(0), 1));
        INDArray cos = directions.castTo(DataType.DOUBLE).mmul(dec.transpose()); // [count, d_sae]
        return org.nd4j.linalg.ops.transforms.Transforms.abs(cos, false)
                .max(1)
                .meanNumber()
                .doubleValue();
    }
}
