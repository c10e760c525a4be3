package dev.loupe.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.loupe.engine.LoupeException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The sampling math on hand-made logits. */
class SamplerTest {
    static final boolean[] ONE = {true};

    static INDArray logits(double... l) {
        return Nd4j.createFromArray(l)
                .castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT)
                .reshape(1, l.length);
    }

    static double[] dist(SamplingConfig cfg, INDArray logits) {
        return new Sampler(cfg, (int) logits.size(0))
                .distribution(logits)
                .getRow(0)
                .toDoubleVector();
    }

    static SamplingConfig.Builder sampled() {
        return SamplingConfig.builder().temperature(1);
    }

    @Test
    void greedyTakesTheArgmaxAndTheLowestIdOnTies() {
        Sampler s = new Sampler(SamplingConfig.greedy(1), 2);
        INDArray l = Nd4j.createFromArray(new float[][] {{1, 3, 3, 0}, {-1, -2, -0.5f, -0.5f}});
        assertArrayEquals(new int[] {1, 2}, s.next(l, new boolean[] {true, true}, 0));
        assertArrayEquals(new int[] {-1, 2}, s.next(l, new boolean[] {false, true}, 0), "inactive rows get -1");
    }

    @Test
    void temperatureScalesLogitsBeforeSoftmax() {
        double[] p = dist(sampled().temperature(2).build(), logits(0, Math.log(9)));
        assertArrayEquals(new double[] {0.25, 0.75}, p, 1e-6); // softmax(0, ln 3)
        p = dist(sampled().build(), logits(0, Math.log(3)));
        assertArrayEquals(new double[] {0.25, 0.75}, p, 1e-6);
    }

    @Test
    void topKKeepsTheKLargestAndTiesWithTheKth() {
        double[] p = dist(sampled().topK(2).build(), logits(0, 2, 1, 2, -1));
        assertArrayEquals(new double[] {0, 0.5, 0, 0.5, 0}, p, 1e-7);
        p = dist(sampled().topK(2).build(), logits(3, 1, 1, 0));
        double e = Math.exp(-2);
        assertArrayEquals(
                new double[] {1 / (1 + 2 * e), e / (1 + 2 * e), e / (1 + 2 * e), 0}, p, 1e-7, "tie at the cut");
        assertArrayEquals(
                new double[] {0.25, 0.25, 0.25, 0.25}, dist(sampled().topK(10).build(), logits(0, 0, 0, 0)), 1e-7);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        INDArray l = logits(Math.log(0.15), Math.log(0.5), Math.log(0.05), Math.log(0.3));
        assertArrayEquals(new double[] {0, 1, 0, 0}, dist(sampled().topP(0.4).build(), l), 1e-6);
        assertArrayEquals(
                new double[] {0, 0.625, 0, 0.375}, dist(sampled().topP(0.7).build(), l), 1e-6);
        assertArrayEquals(
                new double[] {0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95},
                dist(sampled().topP(0.9).build(), l),
                1e-6);
        assertArrayEquals(
                new double[] {0.15, 0.5, 0.05, 0.3}, dist(sampled().topP(1).build(), l), 1e-6);
        assertArrayEquals(new double[] {0, 1, 0, 0}, dist(sampled().topP(1e-12).build(), l), 1e-6, "always one token");
    }

    @Test
    void topKThenTopPOnWhatTopKLeft() {
        // top-k 2 leaves {0.5, 0.3} -> renormalised {0.625, 0.375}; top-p 0.6 then keeps only the first.
        INDArray l = logits(Math.log(0.15), Math.log(0.5), Math.log(0.05), Math.log(0.3));
        assertArrayEquals(
                new double[] {0, 1, 0, 0}, dist(sampled().topK(2).topP(0.6).build(), l), 1e-6);
        assertArrayEquals(
                new double[] {0, 0.625, 0, 0.375},
                dist(sampled().topK(2).topP(0.7).build(), l),
                1e-6);
    }

    @Test
    void drawsFollowTheDistributionAndNeverPickRemovedTokens() {
        Sampler s = new Sampler(sampled().topK(3).seed(9).build(), 1);
        INDArray l = logits(0, Math.log(2), -50, Math.log(7), 1); // top-3 keeps ids 1, 3, 4
        int[] counts = new int[5];
        int n = 6000;
        for (int i = 0; i < n; i++) counts[s.next(l, ONE, i)[0]]++;
        double z = 2 + 7 + Math.E;
        assertEquals(0, counts[0]);
        assertEquals(0, counts[2]);
        assertEquals(2 / z, counts[1] / (double) n, 0.025);
        assertEquals(7 / z, counts[3] / (double) n, 0.025);
        assertEquals(Math.E / z, counts[4] / (double) n, 0.025);
    }

    @Test
    void sameSeedSameDrawsAndRowsHaveTheirOwnStreams() {
        INDArray l = Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 50);
        Sampler a = new Sampler(sampled().seed(1).build(), 2),
                b = new Sampler(sampled().seed(1).build(), 2);
        Sampler rowOneIdle = new Sampler(sampled().seed(1).build(), 2);
        for (int i = 0; i < 20; i++) {
            int[] x = a.next(l, new boolean[] {true, true}, i);
            assertArrayEquals(x, b.next(l, new boolean[] {true, true}, i));
            assertEquals(x[0], rowOneIdle.next(l, new boolean[] {true, false}, i)[0], "row 0 must not depend on row 1");
        }
    }

    @Test
    void nanLogitsAreAClearError() {
        INDArray l = logits(0, Double.NaN, 1);
        assertThrows(LoupeException.class, () -> new Sampler(SamplingConfig.greedy(1), 1).next(l, ONE, 0));
        assertThrows(LoupeException.class, () -> new Sampler(sampled().build(), 1).next(l, ONE, 0));
    }
}
