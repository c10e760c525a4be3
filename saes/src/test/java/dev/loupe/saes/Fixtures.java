package dev.loupe.saes;

import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.store.StoreDType;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.factory.Nd4j;

/** Small models, corpora and stores for the saes tests (no shared data needed). */
public final class Fixtures {
    private Fixtures() {}

    public static HookedTransformer smallModel() {
        return HookedTransformer.random(
                ModelConfig.builder()
                        .dModel(32)
                        .nLayers(2)
                        .nHeads(4)
                        .dVocab(97)
                        .nCtx(64)
                        .build(),
                7);
    }

    /** A 2-D int32 .npy corpus: {@code sequences} rows of {@code context} random ids, each starting with BOS = 1. */
    public static Path tokenCorpus(Path dir, int sequences, int context, int vocab, long seed) {
        Random r = new Random(seed);
        int[][] ids = new int[sequences][context];
        for (int[] row : ids) {
            row[0] = 1;
            for (int i = 1; i < context; i++) row[i] = 2 + r.nextInt(vocab - 2);
        }
        Path p = dir.resolve("corpus-" + seed + ".npy");
        NpyWriter.write(p, Nd4j.createFromArray(ids));
        return p;
    }

    /** A store of {@link #smallModel()}'s hooks over a random corpus (f32). */
    public static Path store(Path dir, List<String> hooks, int sequences) {
        Path corpus = tokenCorpus(dir, sequences, 16, 97, 3);
        Path store = dir.resolve("store");
        Harvester.run(
                smallModel(),
                "small-random",
                Corpus.of(List.of(corpus), null, "text", Corpus.TextDocs.LINES),
                null,
                HarvestConfig.of(hooks, 16, 8, StoreDType.F32, 1).withShardMb(0.05),
                store,
                Harvester.ProgressFactory.silent());
        return store;
    }
}
