package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Every probe kind saves and loads to the same predictions; probe.json says what docs/probes.md says. */
class ProbeFolderTest {
    @TempDir
    Path tmp;

    @Test
    void everyKindRoundTrips() throws Exception {
        Nd4j.getRandom().setSeed(2);
        INDArray x = Nd4j.randn(DataType.FLOAT, 200, 8);
        int[] y = new int[200], y3 = new int[200];
        for (int i = 0; i < y.length; i++) {
            y[i] = x.getDouble(i, 0) + 0.5 * x.getDouble(i, 1) > 0 ? 1 : 0;
            y3[i] = x.getDouble(i, 2) > 0.5 ? 2 : x.getDouble(i, 2) < -0.5 ? 0 : 1;
        }
        Probe[] probes = {
            LogisticProbe.builder()
                    .hook("blocks.1.hook_resid_post")
                    .standardize(true)
                    .build()
                    .fit(x, y),
            LogisticProbe.create().fit(x, y3),
            RidgeProbe.create(0.5).fit(x, y),
            MassMeanProbe.create(true, 1e-3, "blocks.0.hook_resid_pre").fit(x, y),
            CcsProbe.create(2, 200, 0.01, 0, false, null).fit(x, x.neg())
        };
        for (Probe p : probes) {
            Path dir = tmp.resolve(p.kind() + p.d() + System.identityHashCode(p));
            p.save(dir);
            Probe back = Probe.load(dir);
            assertEquals(p.kind(), back.kind());
            assertEquals(p.hook(), back.hook());
            assertArrayEquals(p.classes(), back.classes());
            assertEquals(p.metrics(), back.metrics());
            assertEquals(p.decisionFunction(x), back.decisionFunction(x));
            if (p.classes() == null || p.classes().length == 2) assertEquals(p.direction(), back.direction());
            JsonNode json =
                    new ObjectMapper().readTree(dir.resolve("probe.json").toFile());
            assertEquals("loupe-probe", json.get("format").asText());
            assertEquals(p.d(), json.get("d").asInt());
        }
        JsonNode logistic = new ObjectMapper()
                .readTree(tmp.resolve(firstDir(probes[0])).resolve("probe.json").toFile());
        assertEquals(1.0, logistic.get("params").get("C").asDouble());
        assertTrue(logistic.get("params").get("standardize").asBoolean());
        assertTrue(logistic.get("metrics").has("train_accuracy"));
    }

    private static String firstDir(Probe p) {
        return p.kind() + p.d() + System.identityHashCode(p);
    }
}
