package dev.loupe.spark.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Sae;
import dev.loupe.saes.TestSaes;
import dev.loupe.saes.dashboard.FeatureDashboard;
import dev.loupe.saes.io.SaeLensFolder;
import dev.loupe.spark.SparkContexts;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreDType;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The feature statistics job on local[2] against a brute-force pass over the whole store in the test:
 * density, mean, max, histogram, top rows and their windows, for raw neurons, directions and SAE latents.
 */
class FeatureStatsJobTest {
    @TempDir
    static Path tmp;

    static JavaSparkContext sc;
    static Path store;
    static final String MLP = "blocks.1.mlp.hook_post", RESID = "blocks.1.hook_resid_post";
    static final FeatureStatsConfig CFG = new FeatureStatsConfig(5, 3, 2, 8, 50); // batches cross windows

    @BeforeAll
    static void harvestAStore() {
        sc = SparkContexts.start("local[2]", "loupe test", Map.of("spark.ui.enabled", "false"));
        store = tmp.resolve("store");
        Harvester.run(
                Fixtures.smallModel(),
                "small",
                Corpus.of(List.of(Fixtures.tokenCorpus(tmp, 900, 97, 2)), null, "text", Corpus.TextDocs.LINES),
                null,
                new HarvestConfig(List.of("resid_post1", MLP), 16, 4, StoreDType.F32, 0, 0.05, 1, null, 1),
                store,
                Harvester.ProgressFactory.silent());
    }

    @AfterAll
    static void stop() {
        if (sc != null) sc.stop();
    }

    /** Brute force: the encoder over all rows at once, then plain loops. */
    static void assertMatchesBruteForce(FeatureEncoder enc, List<FeatureDashboard> got, double tol) {
        try (ActivationStore s = ActivationStore.open(store)) {
            assertMatchesBruteForce(enc.encode(s.rows(enc.hook(), 0, (int) s.rows())), got, tol);
        }
    }

    /** Brute force over every row's activations {@code acts} [rows, features], computed by the caller. */
    static void assertMatchesBruteForce(INDArray acts, List<FeatureDashboard> got, double tol) {
        try (ActivationStore s = ActivationStore.open(store)) {
            int n = (int) s.rows(), context = s.manifest().contextSize();
            int[] tokens = s.tokens(0, n);
            int features = (int) acts.size(1);
            assertEquals(n, acts.size(0));
            assertEquals(features, got.size());
            for (int f = 0; f < features; f++) {
                FeatureDashboard st = got.get(f);
                float[] v = acts.getColumn(f).toFloatVector();
                long fired = 0;
                double sum = 0, max = 0;
                List<Integer> order = new ArrayList<>();
                for (int r = 0; r < n; r++)
                    if (v[r] > 0) {
                        fired++;
                        sum += v[r];
                        max = Math.max(max, v[r]);
                        order.add(r);
                    }
                assertEquals(f, st.feature());
                assertEquals(n, st.rowsSeen());
                assertEquals(fired / (double) n, st.density(), 0, "density of " + f);
                assertEquals(max, st.maxActivation(), tol * Math.max(1, max));
                assertEquals(fired == 0 ? 0 : sum / fired, st.meanActivation(), tol * Math.max(1, max));
                assertEquals(
                        fired, java.util.Arrays.stream(st.histogram().counts()).sum());
                if (tol == 0) { // exact values: bins exactly
                    long[] bins = new long[CFG.bins()];
                    for (int r : order) bins[Math.min(CFG.bins() - 1, (int) (v[r] * (CFG.bins() / max)))]++;
                    assertArrayEquals(bins, st.histogram().counts(), "histogram of " + f);
                }
                order.sort(Comparator.<Integer>comparingDouble(r -> -v[r]).thenComparingInt(r -> r));
                assertEquals(
                        Math.min(CFG.topK(), order.size()), st.topExamples().size());
                for (int i = 0; i < st.topExamples().size(); i++) {
                    FeatureDashboard.Example e = st.topExamples().get(i);
                    int row = order.get(i);
                    assertEquals(row, e.row(), "feature " + f + " top " + i);
                    assertEquals(v[row], e.activation(), tol * Math.max(1, max));
                    int position = row % context; // every sequence is context rows, in order
                    assertEquals(position, e.position());
                    assertEquals(row / context, e.sequence());
                    int from = Math.max(row - position, row - CFG.before());
                    int to = Math.min(row - position + context, row + CFG.after() + 1);
                    assertEquals(row - from, e.focus());
                    assertEquals(to - from, e.tokens().size());
                    for (int j = from; j < to; j++) {
                        assertEquals(Integer.toString(tokens[j]), e.tokens().get(j - from));
                        assertEquals(v[j], e.activations()[j - from], tol * Math.max(1, max));
                    }
                }
            }
        }
    }

    @Test
    void neuronsMatchABruteForcePassExactly() {
        NeuronEncoder enc = NeuronEncoder.all(MLP, 128);
        List<FeatureDashboard> got = FeatureStatsJob.run(sc, store, enc, CFG, null, ProgressBar.silent());
        assertTrue(got.stream().anyMatch(s -> s.density() > 0.2 && s.density() < 0.8), "neurons fire sometimes");
        assertMatchesBruteForce(enc, got, 0);
    }

    @Test
    void directionsMatchABruteForcePassAndTheFilesReadBack() {
        Random r = new Random(5);
        float[][] dirs = new float[3][32];
        for (float[] d : dirs) for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian();
        DirectionEncoder enc = new DirectionEncoder(RESID, dirs, "random");
        List<FeatureDashboard> got = FeatureStatsJob.run(sc, store, enc, CFG, null, ProgressBar.silent());
        assertMatchesBruteForce(enc, got, 1e-5);

        Path out = tmp.resolve("stats");
        FeatureStatsFiles.Header h = FeatureStatsFiles.write(out, store, enc, CFG, got);
        assertEquals(h.density()[2], FeatureStatsFiles.header(out).density()[2]);
        FeatureDashboard back = FeatureStatsFiles.feature(out, 1);
        assertEquals(
                got.get(1).topExamples().get(0).row(), back.topExamples().get(0).row());
        assertArrayEquals(got.get(1).histogram().counts(), back.histogram().counts());
        assertEquals(got.get(1).meanActivation(), back.meanActivation(), 0);
    }

    /**
     * An SAE saved as an SAELens folder and read back through --sae's resolution: every latent's
     * statistics match a brute-force pass of the original SAE's {@code encode} over the whole store.
     */
    @Test
    void saeLatentsMatchABruteForcePassOfSaeEncode() {
        for (Architecture arch : List.of(Architecture.STANDARD, Architecture.TOPK)) {
            Sae sae = TestSaes.random(arch, 32, 24, arch == Architecture.TOPK ? 4 : 0, RESID, 11);
            Path dir = tmp.resolve("sae-" + arch.saeLensName());
            SaeLensFolder.write(sae, dir);
            SaeEncoder enc = SaeEncoder.of(dir.toString());
            assertEquals(RESID, enc.hook());
            assertEquals(24, enc.features());
            List<FeatureDashboard> got = FeatureStatsJob.run(sc, store, enc, CFG, null, ProgressBar.silent());
            assertTrue(
                    got.stream().anyMatch(st -> st.density() > 0.05 && st.density() < 0.95),
                    arch + " latents fire sometimes");
            try (ActivationStore s = ActivationStore.open(store)) {
                INDArray acts = sae.encode(s.rows(RESID, 0, (int) s.rows())); // [rows, d_sae]
                assertMatchesBruteForce(acts, got, 1e-5);
            }
        }
    }

    @Test
    void anSaeOffTheStoreOrOfAnotherWidthIsAClearError() {
        Path elsewhere = tmp.resolve("sae-elsewhere"), narrow = tmp.resolve("sae-narrow");
        SaeLensFolder.write(TestSaes.random(Architecture.STANDARD, 32, 8, 0, "blocks.0.hook_resid_pre", 1), elsewhere);
        SaeLensFolder.write(TestSaes.random(Architecture.STANDARD, 16, 8, 0, RESID, 1), narrow);
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> FeatureStatsJob.run(
                        sc, store, SaeEncoder.of(elsewhere.toString()), CFG, null, ProgressBar.silent()));
        assertTrue(e.getMessage().contains("has no hook blocks.0.hook_resid_pre"), e.getMessage());
        assertTrue(e.getMessage().contains("sae-elsewhere"), e.getMessage());
        e = assertThrows(
                LoupeException.class,
                () -> FeatureStatsJob.run(
                        sc, store, SaeEncoder.of(narrow.toString()), CFG, null, ProgressBar.silent()));
        assertTrue(e.getMessage().contains("rows of 32") && e.getMessage().contains("takes 16"), e.getMessage());
    }

    @Test
    void anSaeFolderWrittenAgainIsReadAgain() {
        Path dir = tmp.resolve("sae-rewritten");
        SaeLensFolder.write(TestSaes.random(Architecture.STANDARD, 32, 24, 0, RESID, 2), dir);
        assertEquals(24, SaeEncoder.of(dir.toString()).features());
        SaeLensFolder.write(TestSaes.random(Architecture.STANDARD, 32, 8, 0, RESID, 3), dir);
        assertEquals(8, SaeEncoder.of(dir.toString()).features());
    }
}
