package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * CCS on synthetic contrast pairs with a planted truth direction: x± = content + (±) "yes/no" offset
 * ± truth·v + noise, the content shared by both halves of a pair and larger than the truth signal.
 * CCS finds v (cosine >= 0.95) without labels and predicts the truth of held-out pairs.
 */
class CcsProbeTest {

    static INDArray[] pairs(int n, int d, double[] v, double[] yesNo, int[] truth, Random rng) {
        double[][] pos = new double[n][d], neg = new double[n][d];
        for (int i = 0; i < n; i++) {
            double sign = truth[i] == 1 ? 1 : -1;
            for (int j = 0; j < d; j++) {
                double content = 3 * rng.nextGaussian();
                pos[i][j] = content + yesNo[j] + sign * v[j] + 0.3 * rng.nextGaussian();
                neg[i][j] = content - yesNo[j] - sign * v[j] + 0.3 * rng.nextGaussian();
            }
        }
        return new INDArray[] {
            Nd4j.createFromArray(pos).castTo(DataType.FLOAT),
            Nd4j.createFromArray(neg).castTo(DataType.FLOAT)
        };
    }

    @Test
    void findsThePlantedTruthDirectionWithoutLabels() {
        int d = 32, n = 600;
        Random rng = new Random(5);
        double[] v = new double[d], yesNo = new double[d];
        for (int j = 0; j < d; j++) {
            v[j] = rng.nextGaussian();
            yesNo[j] = 4 * rng.nextGaussian();
        }
        double norm = 0;
        for (double x : v) norm += x * x;
        for (int j = 0; j < d; j++) v[j] *= 1.5 / Math.sqrt(norm);
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) truth[i] = rng.nextInt(2);
        INDArray[] train = pairs(n, d, v, yesNo, truth, rng);
        CcsProbe probe = CcsProbe.create().fit(train[0], train[1]);
        INDArray dir = probe.direction().castTo(DataType.DOUBLE);
        INDArray planted = Nd4j.createFromArray(v);
        double cos = Math.abs(dir.mul(planted).sumNumber().doubleValue()
                / dir.norm2Number().doubleValue()
                / planted.norm2Number().doubleValue());
        System.out.printf("CCS: |cos(direction, planted)| = %.4f, loss %.4f%n", cos, probe.loss());
        assertTrue(cos >= 0.95, "cosine to the planted direction: " + cos);

        int[] testTruth = new int[200];
        for (int i = 0; i < testTruth.length; i++) testTruth[i] = rng.nextInt(2);
        INDArray[] test = pairs(200, d, v, yesNo, testTruth, rng);
        double acc = probe.scorePairs(test[0], test[1], testTruth);
        assertTrue(Math.max(acc, 1 - acc) > 0.95, "CCS accuracy up to its sign: " + acc);
        // with labels to orient it, "true" comes out as class 1
        CcsProbe oriented = CcsProbe.create(3, 1000, 0.01, 1, false, null).fit(train[0], train[1], truth);
        assertTrue(oriented.scorePairs(test[0], test[1], testTruth) > 0.95);
        assertEquals(2, oriented.classes().length);
    }
}
