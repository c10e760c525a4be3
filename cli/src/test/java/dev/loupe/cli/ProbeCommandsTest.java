package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.probes.Probe;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** {@code ./loupe probe fit|predict} and {@code ./loupe bench probe}, run in-process. */
class ProbeCommandsTest {
    @TempDir
    Path tmp;

    /** X [n, d] Gaussian, y from a planted direction: labels 0/1 (or 0/1/2). */
    private Path[] data(int n, int d, int classes) {
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.randn(DataType.FLOAT, n, d);
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            double s = x.getDouble(i, 0) + 0.5 * x.getDouble(i, 1);
            y[i] = classes == 2 ? (s > 0 ? 1 : 0) : (s > 0.5 ? 2 : s < -0.5 ? 0 : 1);
        }
        Path xf = tmp.resolve("X.npy"), yf = tmp.resolve("y" + classes + ".npy");
        NpyWriter.write(xf, x);
        NpyWriter.write(yf, Nd4j.createFromArray(y));
        return new Path[] {xf, yf};
    }

    @Test
    void fitThenPredictWritesProbabilitiesOfEveryClass() {
        for (int classes : new int[] {2, 3}) {
            Path[] f = data(400, 12, classes);
            Path dir = tmp.resolve("probe" + classes), p = tmp.resolve("P" + classes + ".npy");
            String out = CliRun.output(
                    "probe",
                    "fit",
                    "--x",
                    f[0].toString(),
                    "--y",
                    f[1].toString(),
                    "--kind",
                    "logistic",
                    "--c",
                    "0.5",
                    "--out",
                    dir.toString());
            assertTrue(out.contains("train accuracy 0."), out);
            CliRun.output("probe", "predict", "--probe", dir.toString(), "--x", f[0].toString(), "--out", p.toString());
            INDArray proba = NpyReader.read(p);
            assertEquals(DataType.FLOAT, proba.dataType());
            assertArrayEquals(new long[] {400, classes}, proba.shape());
            assertEquals(1.0, proba.sum(1).minNumber().doubleValue(), 1e-5);
            assertEquals(
                    0.5,
                    ((Number) ((dev.loupe.probes.LinearProbe) Probe.load(dir))
                                    .params()
                                    .get("C"))
                            .doubleValue());
        }
    }

    @Test
    void ridgeWritesPredictionsAndMassMeanFits() {
        Path[] f = data(300, 8, 2);
        Path ridge = tmp.resolve("ridge"), p = tmp.resolve("R.npy");
        String out = CliRun.output(
                "probe",
                "fit",
                "--x",
                f[0].toString(),
                "--y",
                f[1].toString(),
                "--kind",
                "ridge",
                "--alpha",
                "2",
                "--out",
                ridge.toString());
        assertTrue(out.contains("train R^2"), out);
        CliRun.output("probe", "predict", "--probe", ridge.toString(), "--x", f[0].toString(), "--out", p.toString());
        assertArrayEquals(new long[] {300}, NpyReader.read(p).shape());
        out = CliRun.output(
                "probe",
                "fit",
                "--x",
                f[0].toString(),
                "--y",
                f[1].toString(),
                "--kind",
                "mass-mean",
                "--out",
                tmp.resolve("mm").toString());
        assertTrue(out.contains("train accuracy"), out);
    }

    @Test
    void badInputNamesTheFile() {
        Path[] f = data(50, 4, 2);
        Path floats = tmp.resolve("yf.npy");
        NpyWriter.write(floats, Nd4j.linspace(0, 1, 50, DataType.FLOAT));
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> Main.run(
                        "probe",
                        "fit",
                        "--x",
                        f[0].toString(),
                        "--y",
                        floats.toString(),
                        "--kind",
                        "logistic",
                        "--out",
                        tmp.resolve("a").toString()));
        assertTrue(e.getMessage().contains("yf.npy") && e.getMessage().contains("integers"), e.getMessage());
        e = assertThrows(
                LoupeException.class,
                () -> Main.run(
                        "probe",
                        "fit",
                        "--x",
                        f[0].toString(),
                        "--y",
                        f[1].toString(),
                        "--kind",
                        "svm",
                        "--out",
                        tmp.resolve("b").toString()));
        assertTrue(e.getMessage().contains("--kind must be logistic, ridge or mass-mean"), e.getMessage());
        Path dir = tmp.resolve("c");
        CliRun.output(
                "probe",
                "fit",
                "--x",
                f[0].toString(),
                "--y",
                f[1].toString(),
                "--kind",
                "logistic",
                "--out",
                dir.toString());
        Path narrow = tmp.resolve("narrow.npy");
        NpyWriter.write(narrow, Nd4j.zeros(DataType.FLOAT, 3, 5));
        e = assertThrows(
                LoupeException.class,
                () -> Main.run(
                        "probe",
                        "predict",
                        "--probe",
                        dir.toString(),
                        "--x",
                        narrow.toString(),
                        "--out",
                        tmp.resolve("P.npy").toString()));
        assertTrue(e.getMessage().contains("narrow.npy: expected float activations [n, 4]"), e.getMessage());
    }

    @Test
    void benchProbeRunsSmall() {
        String out = CliRun.output("bench", "probe", "--n", "2000", "--d", "16", "--repeats", "1");
        assertTrue(out.contains("loupe   best"), out);
    }
}
