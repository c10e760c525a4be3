package dev.loupe.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.HarvestResult;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import dev.loupe.store.stats.HookStatistics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.Table;

/** Harvest a random-weight model over a pre-tokenized corpus and read every row back. */
class HarvestRoundTripTest {
    @TempDir
    Path tmp;

    static final List<String> HOOKS = List.of("resid_post1", "blocks.0.attn.hook_z", "blocks.1.mlp.hook_post");

    private HarvestResult harvest(HookedTransformer model, Path corpus, StoreDType dtype, long maxTokens, Path out) {
        HarvestConfig cfg = new HarvestConfig(HOOKS, 16, 3, dtype, maxTokens, 0.01, 1, null, 1);
        return Harvester.run(
                model,
                "random",
                Corpus.of(List.of(corpus), null, "text", Corpus.TextDocs.LINES),
                null,
                cfg,
                out,
                Harvester.ProgressFactory.silent());
    }

    @Test
    void everyRowMatchesADirectForwardPass() {
        HookedTransformer model = Fixtures.smallModel();
        Path corpus = Fixtures.tokenCorpus(tmp, 600, 97, 1);
        Path out = tmp.resolve("store");
        HarvestResult r = harvest(model, corpus, StoreDType.F32, 0, out);
        // 600 tokens, context 16 with a BOS each: 15 corpus tokens per sequence -> 40 sequences
        assertEquals(40, r.sequences());
        assertEquals(640, r.rows());

        List<int[]> seqs = new ArrayList<>();
        new Chunker(Corpus.of(List.of(corpus), null, "t", Corpus.TextDocs.LINES).documents(), 16, 1, null, 1)
                .forEachRemaining(seqs::add);
        try (ActivationStore store =
                ActivationStore.open(out, Verify.FULL, dev.loupe.engine.progress.ProgressBar.silent())) {
            assertTrue(store.manifest().complete());
            assertTrue(
                    store.manifest().shards().size() > 3,
                    "small shards: " + store.manifest().shards().size());
            assertEquals(
                    List.of("blocks.1.hook_resid_post", "blocks.0.attn.hook_z", "blocks.1.mlp.hook_post"),
                    store.hooks());
            assertEquals(32, store.d("blocks.0.attn.hook_z")); // n_heads * d_head flattened
            assertEquals(128, store.d("blocks.1.mlp.hook_post"));
            assertEquals(2, store.manifest().creation().stopAtLayer()); // stops after block 1
            for (int s = 0; s < seqs.size(); s += 7) {
                try (ForwardResult f = model.runWithCache(Tokens.of(seqs.get(s)), ActivationFilter.all())) {
                    for (String h : store.hooks()) {
                        INDArray want = f.cache().get(h).reshape(16, store.d(h));
                        INDArray got = store.rows(h, s * 16L, 16);
                        assertEquals(want, got, "hook " + h + " sequence " + s);
                    }
                }
                assertArrayEquals(seqs.get(s), store.tokens(s * 16L, 16));
                assertEquals(s, store.sequences(s * 16L + 5, 1)[0]);
                assertEquals(5, store.positions(s * 16L + 5, 1)[0]);
            }
            INDArray one = store.row("blocks.1.hook_resid_post", 100);
            assertEquals(store.rows("blocks.1.hook_resid_post", 100, 1).reshape(32), one);

            // sequential batches cover every row in order; statistics agree with the rows
            Iterator<INDArray> it = store.batches("blocks.1.hook_resid_post", 100);
            List<INDArray> parts = new ArrayList<>();
            it.forEachRemaining(parts::add);
            assertEquals(7, parts.size());
            assertEquals(40, parts.get(6).size(0));
            INDArray all = org.nd4j.linalg.factory.Nd4j.concat(0, parts.toArray(INDArray[]::new))
                    .castTo(DataType.DOUBLE);
            HookStatistics st = store.statistics("blocks.1.hook_resid_post");
            assertEquals(640, st.count());
            INDArray mean = all.mean(0), var = all.var(false, 0);
            for (int i = 0; i < 32; i++) {
                assertEquals(mean.getDouble(i), st.mean()[i], 1e-5);
                assertEquals(var.getDouble(i), st.variance()[i], 1e-4);
            }
            assertEquals(all.norm2(1).meanNumber().doubleValue(), st.meanNorm(), 1e-4);
            Table t = store.summary();
            assertEquals(3, t.rowCount());
            assertEquals(640L, t.longColumn("count").get(0));
            assertEquals(32, st.perDimension().rowCount());
        }
    }

    @Test
    void reducedPrecisionStoresHoldTheRoundedFloat32Rows() {
        HookedTransformer model = Fixtures.smallModel();
        Path corpus = Fixtures.tokenCorpus(tmp, 200, 97, 2);
        Path f32 = tmp.resolve("f32");
        harvest(model, corpus, StoreDType.F32, 0, f32);
        for (StoreDType dt : List.of(StoreDType.BF16, StoreDType.F16)) {
            Path out = tmp.resolve(dt.label());
            harvest(model, corpus, dt, 0, out);
            try (ActivationStore a = ActivationStore.open(f32);
                    ActivationStore b = ActivationStore.open(out)) {
                assertEquals(dt, b.dtype());
                for (String h : a.hooks()) {
                    INDArray full = a.rows(h, 0, (int) a.rows());
                    INDArray rounded = full.castTo(dt.nd4j()).castTo(DataType.FLOAT);
                    assertEquals(rounded, b.rows(h, 0, (int) b.rows()), dt + " " + h);
                }
            }
        }
    }

    @Test
    void maxTokensStopsAtWholeSequencesAndRerunningACompleteStoreDoesNothing() {
        HookedTransformer model = Fixtures.smallModel();
        Path corpus = Fixtures.tokenCorpus(tmp, 600, 97, 3);
        Path out = tmp.resolve("store");
        HarvestResult r = harvest(model, corpus, StoreDType.F32, 100, out);
        assertEquals(6, r.sequences()); // floor(100 / 16)
        assertEquals(96, r.rows());
        HarvestResult again = harvest(model, corpus, StoreDType.F32, 100, out);
        assertEquals(0, again.newRows());
        assertEquals(96, again.rows());
    }
}
