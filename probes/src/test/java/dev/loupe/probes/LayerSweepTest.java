package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.data.Labels;
import dev.loupe.probes.data.RowSource;
import dev.loupe.probes.sweep.LayerSweep;
import dev.loupe.probes.sweep.SweepResult;
import dev.loupe.store.StoreDType;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep streaming a store (many 10 kB shards) fits the same probes, on the same stratified split, as
 * a sweep over the same rows in memory; each fitted probe records its hook.
 */
class LayerSweepTest {
    static final List<String> HOOKS = List.of("blocks.0.hook_resid_post", "blocks.2.hook_resid_post");

    @Test
    void streamingAStoreFitsWhatTheRowsInMemoryFit(@TempDir Path tmp) {
        Path corpus = dev.loupe.store.Fixtures.tokenCorpus(tmp, 1500, 97, 5);
        Path dir = dev.loupe.store.Fixtures.harvest(tmp.resolve("acts"), corpus, HOOKS, StoreDType.F32);
        try (ActivationStore store = ActivationStore.open(dir)) {
            // label: is the position odd (16 positions, each with its own embedding in 32 dimensions)
            int[] labels = Labels.perPosition(store, (seq, pos) -> pos % 2);
            LayerSweep sweep = LayerSweep.of(() -> LogisticProbe.create());
            SweepResult streamed = sweep.run(store, HOOKS, labels);

            Map<String, RowSource> inMemory = new LinkedHashMap<>();
            for (String h : HOOKS)
                inMemory.put(h, RowSource.of(store.rows(h, 0, (int) store.rows()), "rows of " + h, h));
            SweepResult loaded = sweep.run(inMemory, labels);

            assertEquals(HOOKS, streamed.table().stringColumn("hook").asList());
            for (String h : HOOKS) {
                Probe s = streamed.probe(h), m = loaded.probe(h);
                assertEquals(h, s.hook(), "the sweep records the hook in the probe (probe.json, steering)");
                assertEquals(h, m.hook());
                double diff = s.weights().sub(m.weights()).norm1Number().doubleValue()
                        / s.weights().norm1Number().doubleValue();
                assertTrue(diff < 1e-5, h + ": streamed vs in-memory weights differ by " + diff + " (relative L1)");
            }
            for (String col : List.of("n_train", "n_test"))
                assertEquals(
                        streamed.table().intColumn(col).asList(),
                        loaded.table().intColumn(col).asList());
            double[] a = streamed.table().doubleColumn("test_accuracy").asDoubleArray();
            double[] b = loaded.table().doubleColumn("test_accuracy").asDoubleArray();
            assertArrayEquals(a, b, 1e-9);
            assertTrue(a[0] > 0.7, "position parity is readable after block 0, test accuracy " + a[0]);

            LoupeException e = assertThrows(
                    LoupeException.class, () -> sweep.run(store, List.of("blocks.1.hook_resid_pre"), labels));
            assertTrue(
                    e.getMessage().contains(dir.toString())
                            && e.getMessage().contains("blocks.1.hook_resid_pre")
                            && e.getMessage().contains("blocks.0.hook_resid_post"),
                    e.getMessage());
            e = assertThrows(LoupeException.class, () -> sweep.run(store, HOOKS, Arrays.copyOf(labels, 100)));
            assertTrue(e.getMessage().contains("100 labels"), e.getMessage());
        }
    }

    @Test
    void theSplitIsStratifiedAndSeeded() {
        int n = 1000;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 10 == 0 ? 2 : i % 3 == 0 ? 1 : 0; // imbalanced: 100 of class 2
        LabeledRows all = LabeledRows.of(org.nd4j.linalg.factory.Nd4j.zeros(n, 1), labels);
        LabeledRows.Split s = all.split(0.2, 7);
        int[] perClass = new int[3], testPerClass = new int[3];
        for (int i = 0; i < n; i++) {
            perClass[labels[i]]++;
            if (s.test().includes(i)) testPerClass[labels[i]]++;
            assertNotEquals(s.test().includes(i), s.train().includes(i), "row " + i + " is in exactly one part");
        }
        for (int c = 0; c < 3; c++)
            assertEquals(Math.round(0.2 * perClass[c]), testPerClass[c], "class " + c + " is split 80/20");
        int[] again = s.test().includedRows(), other = all.split(0.2, 8).test().includedRows();
        assertArrayEquals(again, all.split(0.2, 7).test().includedRows(), "same seed, same split");
        assertTrue(!Arrays.equals(again, other), "another seed, another split");
    }
}
