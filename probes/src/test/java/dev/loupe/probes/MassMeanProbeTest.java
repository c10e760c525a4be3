package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class MassMeanProbeTest {

    @Test
    void directionIsExactlyTheDifferenceOfClassMeans() {
        Fixtures.Modadd m = Fixtures.modadd("blocks.0.hook_resid_mid", 1500, 7);
        int[] y = new int[m.a().length];
        for (int i = 0; i < y.length; i++) y[i] = m.a()[i] % 3 == 0 ? 5 : 2; // labels need not be 0/1
        MassMeanProbe probe = MassMeanProbe.create().fit(m.x(), y);
        double[][] x = m.x().castTo(DataType.DOUBLE).toDoubleMatrix();
        int d = x[0].length;
        double[] s5 = new double[d], s2 = new double[d];
        int n5 = 0, n2 = 0;
        for (int i = 0; i < x.length; i++) {
            double[] s = y[i] == 5 ? s5 : s2;
            for (int j = 0; j < d; j++) s[j] += x[i][j];
            if (y[i] == 5) n5++;
            else n2++;
        }
        float[] dir = probe.direction().toFloatVector();
        for (int j = 0; j < d; j++) {
            double exact = s5[j] / n5 - s2[j] / n2; // classes sorted: 2 then 5, direction = mean(5) - mean(2)
            assertEquals((float) exact, dir[j], Math.ulp((float) exact), "dimension " + j);
        }
        // LDA scores the second class higher on its own rows on average, and predicts better than chance
        assertTrue(probe.score(m.x(), y) > 0.5);
    }

    @Test
    void ldaDirectionSolvesThePooledCovarianceSystem() {
        Fixtures.Modadd m = Fixtures.modadd("blocks.0.hook_resid_mid", 1200, 11);
        int[] y = new int[m.a().length];
        for (int i = 0; i < y.length; i++) y[i] = m.a()[i] < 56 ? 1 : 0;
        MassMeanProbe lda = MassMeanProbe.create(true, 1e-3, null).fit(m.x(), y);
        MassMeanProbe plain = MassMeanProbe.create().fit(m.x(), y);
        // Σ · direction_lda = (1 + shrinkage-ish) θ: check Σ_w v ≈ θ - shrinkage·meanVar·v, with Σ_w computed here
        INDArray x = m.x().castTo(DataType.DOUBLE);
        int d = (int) x.size(1);
        INDArray mu1 = Nd4j.zeros(DataType.DOUBLE, d), mu0 = Nd4j.zeros(DataType.DOUBLE, d);
        int n1 = 0, n0 = 0;
        for (int i = 0; i < y.length; i++) {
            if (y[i] == 1) {
                mu1.addi(x.getRow(i));
                n1++;
            } else {
                mu0.addi(x.getRow(i));
                n0++;
            }
        }
        mu1.divi(n1);
        mu0.divi(n0);
        INDArray centred = x.dup();
        for (int i = 0; i < y.length; i++) centred.getRow(i).subi(y[i] == 1 ? mu1 : mu0);
        INDArray cov = centred.transpose().mmul(centred).divi(y.length - 2);
        double meanVar = Nd4j.diag(cov).sumNumber().doubleValue() / d;
        INDArray v = lda.direction().castTo(DataType.DOUBLE).reshape(d, 1);
        INDArray lhs = cov.mmul(v).addi(v.mul(1e-3 * meanVar + 1e-12 * meanVar)).reshape(d);
        INDArray theta = plain.direction().castTo(DataType.DOUBLE);
        double rel =
                lhs.sub(theta).norm2Number().doubleValue() / theta.norm2Number().doubleValue();
        assertTrue(rel < 1e-4, "(Σ + εI) v - θ relative to θ: " + rel);
        assertTrue(lda.score(m.x(), y) >= plain.score(m.x(), y) - 0.02, "LDA is at least about as accurate in-sample");
    }
}
