package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** The ridge probe against scikit-learn's Ridge(alpha) on modadd-1l's residual stream: predictions within 1e-5. */
class RidgeProbeSklearnTest {
    @TempDir
    Path tmp;

    @Test
    void fourierFeatureRegressionMatchesSklearnRidge() throws Exception {
        SklearnPeer.require();
        Fixtures.Modadd m = Fixtures.modadd("blocks.0.hook_resid_post", 3000, 4);
        int n = m.a().length;
        // targets: cos and sin of the answer at frequency 13, one of modadd-1l's key frequencies
        double[][] t = new double[n][2];
        for (int i = 0; i < n; i++) {
            double angle = 2 * Math.PI * 13 * m.sum()[i] / Fixtures.P;
            t[i][0] = Math.cos(angle);
            t[i][1] = Math.sin(angle);
        }
        INDArray targets = Nd4j.createFromArray(t);
        for (double alpha : new double[] {1.0, 0.01}) {
            RidgeProbe probe = RidgeProbe.create(alpha).fit(m.x(), targets);
            NpyWriter.write(tmp.resolve("X.npy"), m.x());
            NpyWriter.write(tmp.resolve("T.npy"), targets);
            SklearnPeer.run(
                    tmp,
                    """
                    import sys, numpy as np
                    from sklearn.linear_model import Ridge
                    d, alpha = sys.argv[1], float(sys.argv[2])
                    X, T = np.load(f"{d}/X.npy").astype(np.float64), np.load(f"{d}/T.npy")
                    r = Ridge(alpha=alpha).fit(X, T)
                    np.save(f"{d}/pred.npy", r.predict(X))
                    print("{}")
                    """,
                    tmp.toString(),
                    Double.toString(alpha));
            INDArray expected = NpyReader.read(tmp.resolve("pred.npy"));
            double diff = Transforms.abs(
                            probe.predict(m.x()).castTo(DataType.DOUBLE).sub(expected))
                    .maxNumber()
                    .doubleValue();
            double r2 = probe.score(m.x(), targets);
            System.out.printf(
                    Locale.ROOT, "ridge alpha %.2f: max |pred - sklearn| = %.2e, R^2 %.4f%n", alpha, diff, r2);
            assertTrue(diff <= 1e-5, "max |pred - sklearn| = " + diff);
            assertTrue(r2 > 0.9, "frequency 13 is one of modadd-1l's key frequencies: R^2 " + r2);
        }
    }
}
