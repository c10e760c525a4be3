package dev.loupe.saes.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Fixtures;
import dev.loupe.saes.Sae;
import dev.loupe.saes.TestSaes;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

class FeatureDashboardsTest {
    static final String HOOK = "blocks.1.hook_resid_post";

    @TempDir
    Path tmp;

    @Test
    void dashboardsAgreeWithABruteForcePassOverTheStore() {
        Path store = Fixtures.store(tmp, List.of(HOOK), 40); // 640 rows
        for (Architecture arch : List.of(Architecture.TOPK, Architecture.STANDARD)) {
            Sae sae = TestSaes.random(arch, 32, 64, 6, HOOK, 5);
            try (ActivationStore s = ActivationStore.open(store)) {
                int[] features = {3, 17, 40};
                DashboardConfig cfg = DashboardConfig.defaults().withExamples(5, 4, 2);
                List<FeatureDashboard> ds = FeatureDashboards.compute(
                        sae, s, features, cfg, Fixtures.smallModel(), null, ProgressBar.silent());
                INDArray acts = sae.encode(s.rows(HOOK, 0, (int) s.rows())); // [640, 64]
                for (int i = 0; i < features.length; i++) {
                    FeatureDashboard d = ds.get(i);
                    int f = features[i];
                    INDArray col = acts.getColumn(f);
                    long fired = col.gt(0)
                            .castTo(org.nd4j.linalg.api.buffer.DataType.INT)
                            .sumNumber()
                            .longValue();
                    assertEquals(fired / 640.0, d.density(), 1e-12, arch + " density of " + f);
                    if (fired == 0) continue;
                    assertEquals(col.maxNumber().doubleValue(), d.maxActivation(), 1e-6);
                    assertEquals(d.maxActivation(), d.topExamples().get(0).activation(), 1e-6);
                    for (int j = 1; j < d.topExamples().size(); j++)
                        assertTrue(d.topExamples().get(j - 1).activation()
                                >= d.topExamples().get(j).activation());
                    for (FeatureDashboard.Example e : d.topExamples()) {
                        assertEquals(e.activation(), e.activations()[e.focus()], 1e-5, "the context's own token");
                        assertEquals(col.getDouble(e.row()), e.activation(), 1e-5);
                        assertEquals(
                                s.tokens(e.row(), 1)[0],
                                Integer.parseInt(e.tokens().get(e.focus())));
                        assertTrue(e.tokens().size() <= 15 && e.position() == s.positions(e.row(), 1)[0]);
                    }
                    long inIntervals = 0;
                    for (FeatureDashboard.Interval q : d.quantiles()) {
                        inIntervals += q.count();
                        for (FeatureDashboard.Example e : q.examples())
                            assertTrue(e.activation() >= q.low() && e.activation() < q.high());
                    }
                    assertEquals(fired, inIntervals, "the sample holds every activation here, so counts are exact");
                    long histogram = 0;
                    for (long c : d.histogram().counts()) histogram += c;
                    assertEquals(fired, histogram);
                    // logit effects: W_dec[f] centred (the model's LayerNorm centres), times ln_final.w, · W_U
                    var sd = Fixtures.smallModel().stateDict();
                    assertTrue(Fixtures.smallModel().config().normalization().centers());
                    INDArray row = sae.W_dec().getRow(f).dup();
                    row.subi(row.meanNumber()).muli(sd.get("ln_final.w"));
                    INDArray effect =
                            row.reshape(1, 32).mmul(sd.get("unembed.W_U")).reshape(-1);
                    assertEquals(
                            effect.maxNumber().doubleValue(),
                            d.topLogits().get(0).value(),
                            1e-5);
                    assertEquals(
                            effect.minNumber().doubleValue(),
                            d.bottomLogits().get(0).value(),
                            1e-5);
                }
            }
        }
    }
}
