package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.data.Labels;
import dev.loupe.probes.data.RowSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Bad input gets a LoupeException naming the file (or argument) and what was expected. */
class BadInputTest {
    @TempDir
    Path tmp;

    static INDArray x(int n, int d) {
        Nd4j.getRandom().setSeed(1);
        return Nd4j.randn(DataType.FLOAT, n, d);
    }

    static int[] alternating(int n) {
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = i % 2;
        return y;
    }

    @Test
    void rowMismatchNamesBothCounts() {
        LoupeException e = assertThrows(
                LoupeException.class, () -> LabeledRows.of(RowSource.of(x(10, 4), "X.npy"), alternating(9)));
        assertTrue(e.getMessage().contains("X.npy has 10 rows but there are 9 labels"), e.getMessage());
        Path y = tmp.resolve("y.npy");
        NpyWriter.write(y, Nd4j.createFromArray(alternating(9)));
        e = assertThrows(LoupeException.class, () -> Labels.fromNpy(y, 10));
        assertTrue(e.getMessage().contains("y.npy has 9 labels but the activations have 10 rows"), e.getMessage());
    }

    @Test
    void singleClassIsRefusedForEveryClassifier() {
        int[] y = new int[20];
        java.util.Arrays.fill(y, 3);
        for (SupervisedProbe p : new SupervisedProbe[] {LogisticProbe.create(), MassMeanProbe.create()}) {
            LoupeException e =
                    assertThrows(LoupeException.class, () -> p.fit(LabeledRows.of(RowSource.of(x(20, 4), "X.npy"), y)));
            assertTrue(e.getMessage().startsWith("X.npy: "), e.getMessage());
            assertTrue(e.getMessage().contains("3"), e.getMessage());
        }
    }

    @Test
    void nanAndInfinityNameTheRowAndColumn() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            INDArray x = x(30, 5);
            x.putScalar(17, 3, bad);
            for (SupervisedProbe p :
                    new SupervisedProbe[] {LogisticProbe.create(), RidgeProbe.create(), MassMeanProbe.create()}) {
                LoupeException e = assertThrows(
                        LoupeException.class, () -> p.fit(LabeledRows.of(RowSource.of(x, "X.npy"), alternating(30))));
                assertTrue(e.getMessage().contains("X.npy: row 17, column 3 is"), e.getMessage());
            }
        }
    }

    @Test
    void nonIntegerLabelsAreRefusedNamingTheFileAndIndex() {
        Path y = tmp.resolve("y.npy");
        NpyWriter.write(y, Nd4j.createFromArray(0.0, 1.0, 0.5, 1.0));
        LoupeException e = assertThrows(LoupeException.class, () -> Labels.fromNpy(y, 4));
        assertTrue(e.getMessage().contains("y.npy") && e.getMessage().contains("index 2 is 0.5"), e.getMessage());
        // whole numbers in a float file are fine
        NpyWriter.write(y, Nd4j.createFromArray(0.0f, 1.0f, 2.0f));
        assertEquals(2, Labels.fromNpy(y, 3)[2]);
        NpyWriter.write(y, Nd4j.createFromArray(new int[][] {{1, 2}, {3, 4}}));
        e = assertThrows(LoupeException.class, () -> Labels.fromNpy(y, 2));
        assertTrue(e.getMessage().contains("expected labels of shape [2]"), e.getMessage());
    }

    @Test
    void probeFolderWithWrongShapesNamesTheFileAndTheExpectedShape() {
        Path dir = tmp.resolve("probe");
        LogisticProbe.create().fit(x(40, 6), alternating(40)).save(dir);
        assertEquals(6, Probe.load(dir).d());
        // W with the wrong number of rows
        SafetensorsWriter.write(
                dir.resolve("probe.safetensors"),
                Map.of("W", Nd4j.zeros(DataType.FLOAT, 5, 2), "b", Nd4j.zeros(DataType.FLOAT, 2)),
                null);
        LoupeException e = assertThrows(LoupeException.class, () -> Probe.load(dir));
        assertTrue(
                e.getMessage().contains("probe.safetensors")
                        && e.getMessage().contains("\"W\" has shape [5, 2]")
                        && e.getMessage().contains("expected [6, 2]"),
                e.getMessage());
        // b missing
        SafetensorsWriter.write(dir.resolve("probe.safetensors"), Map.of("W", Nd4j.zeros(DataType.FLOAT, 6, 2)), null);
        e = assertThrows(LoupeException.class, () -> Probe.load(dir));
        assertTrue(e.getMessage().contains("no tensor \"b\""), e.getMessage());
    }

    @Test
    void brokenProbeJsonIsNamed() throws Exception {
        Path dir = tmp.resolve("probe");
        LogisticProbe.create().fit(x(40, 6), alternating(40)).save(dir);
        Files.writeString(
                dir.resolve("probe.json"), "{\"format\": \"loupe-probe\", \"version\": 1, \"kind\": \"svm\"}");
        LoupeException e = assertThrows(LoupeException.class, () -> Probe.load(dir));
        assertTrue(
                e.getMessage().contains("probe.json") && e.getMessage().contains("unknown probe kind \"svm\""),
                e.getMessage());
        Files.writeString(dir.resolve("probe.json"), "{not json");
        e = assertThrows(LoupeException.class, () -> Probe.load(dir));
        assertTrue(e.getMessage().contains("probe.json: not valid JSON"), e.getMessage());
        e = assertThrows(LoupeException.class, () -> Probe.load(tmp.resolve("nothing")));
        assertTrue(e.getMessage().contains("no such probe folder"), e.getMessage());
    }

    @Test
    void predictionInputOfTheWrongWidthIsNamed() {
        LogisticProbe p = LogisticProbe.create().fit(x(40, 6), alternating(40));
        LoupeException e = assertThrows(LoupeException.class, () -> p.predictProba(x(3, 5)));
        assertTrue(e.getMessage().contains("shape [3, 5]; expected [n, 6]"), e.getMessage());
        assertThrows(LoupeException.class, () -> LogisticProbe.create().predict(x(3, 6)));
    }
}
