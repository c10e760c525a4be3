package dev.loupe.probes.fit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loupe.probes.data.RowSource;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** The start of a fit (W = 0) from the class column sums equals the same evaluation from the rows. */
class LogisticObjectiveTest {

    @Test
    void evaluationAtZeroWeightsFromClassSumsEqualsTheRowPass() {
        for (int classes : new int[] {2, 3}) {
            int n = 500, d = 12;
            Random r = new Random(classes);
            float[] v = new float[n * d];
            for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() + 0.3 * (i % d));
            INDArray x = Nd4j.createFromArray(v).reshape('c', n, d);
            int[] classIndex = new int[n];
            for (int i = 0; i < n; i++) classIndex[i] = i % 7 == 0 ? -1 : r.nextInt(classes); // some rows left out
            double[] weights = classes == 2 ? new double[] {1.0, 2.5} : new double[] {1.0, 0.5, 3.0};
            long count = java.util.Arrays.stream(classIndex).filter(c -> c >= 0).count();
            RowSource rows = RowSource.of(x, "test rows");
            ColumnStats stats =
                    ColumnStats.compute(rows, 128, i -> classIndex[(int) i] >= 0, count, true, 0, classIndex, classes);
            INDArray scale = Transforms.sqrt(stats.variance(), true); // standardised features
            INDArray centre = stats.mean().div(scale);
            LogisticObjective fromRows = objective(rows, classes, classIndex, weights, scale, centre);
            LogisticObjective fromSums = objective(rows, classes, classIndex, weights, scale, centre);
            fromSums.useClassSums(stats.classSums());
            // W = 0 with a zero and a nonzero intercept: every row's logits are the intercept
            double[] start = new double[fromRows.size()];
            double[] shifted = start.clone();
            for (int j = 0; j < fromRows.logits(); j++) shifted[fromRows.size() - 1 - j] = 0.7 - 0.4 * j;
            for (double[] theta : new double[][] {start, shifted}) {
                Lbfgs.Evaluation<LogisticObjective.PassInfo> a = fromRows.evaluate(theta), b = fromSums.evaluate(theta);
                assertEquals(a.f(), b.f(), 1e-9 * Math.abs(a.f()), classes + " classes: objective");
                // both sum float32 products (Xᵀ r, the class sums): equal to float32 rounding of the largest part
                double largest =
                        java.util.Arrays.stream(a.g()).map(Math::abs).max().orElseThrow();
                for (int j = 0; j < a.g().length; j++)
                    assertEquals(a.g()[j], b.g()[j], 1e-5 * largest, classes + " classes: gradient " + j);
                assertEquals(a.info().logLoss(), b.info().logLoss(), 1e-12, classes + " classes: log-loss");
                assertEquals(a.info().correct(), b.info().correct(), classes + " classes: correct rows");
                assertEquals(a.info().count(), b.info().count(), classes + " classes: rows");
            }
        }
    }

    private static LogisticObjective objective(
            RowSource rows, int classes, int[] classIndex, double[] weights, INDArray scale, INDArray centre) {
        int d = rows.d();
        return new LogisticObjective(
                rows,
                128,
                classes,
                classIndex,
                weights,
                1.0,
                Nd4j.zeros(DataType.DOUBLE, d),
                scale,
                centre,
                0.25,
                Preconditioner.identity());
    }
}
