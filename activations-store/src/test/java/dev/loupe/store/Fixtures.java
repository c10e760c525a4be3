package dev.loupe.store;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.nd4j.linalg.factory.Nd4j;

/** Test models and corpora that need no shared data. */
public final class Fixtures {
    private Fixtures() {}

    public static ModelConfig smallConfig() {
        return ModelConfig.builder()
                .dModel(32)
                .nLayers(3)
                .nHeads(4)
                .dVocab(97)
                .nCtx(64)
                .build();
    }

    public static HookedTransformer smallModel() {
        return HookedTransformer.random(smallConfig(), 7);
    }

    /** A saved random model (a Loupe checkpoint folder), for command-line and child-process runs. */
    public static Path savedModel(Path dir) {
        Path m = dir.resolve("model");
        Checkpoint.save(smallModel(), m);
        return m;
    }

    /** A 1-D int32 .npy of {@code n} random ids in [2, vocab) (0/1 left for BOS/separator). */
    public static Path tokenCorpus(Path dir, int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 2 + r.nextInt(vocab - 2);
        Path p = dir.resolve("corpus-" + seed + ".npy");
        NpyWriter.write(p, Nd4j.createFromArray(ids));
        return p;
    }

    /**
     * A store harvested from {@link #smallModel()} over a 1-D .npy corpus (BOS 1 before each sequence
     * and between documents): context 16, batches of 4, shards of 10 kB (many shards).
     */
    public static Path harvest(Path store, Path corpus, java.util.List<String> hooks, StoreDType dtype) {
        dev.loupe.store.harvest.Harvester.run(
                smallModel(),
                "m",
                dev.loupe.store.corpus.Corpus.of(
                        java.util.List.of(corpus), null, "t", dev.loupe.store.corpus.Corpus.TextDocs.LINES),
                null,
                new dev.loupe.store.harvest.HarvestConfig(hooks, 16, 4, dtype, 0, 0.01, 1, null, 1),
                store,
                dev.loupe.store.harvest.Harvester.ProgressFactory.silent());
        return store;
    }

    /** {@code <repo>/../shared/<relative>}, or the test is skipped. */
    public static Path shared(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("engine").resolve("pom.xml"))) dir = dir.getParent();
        String prop = System.getProperty("loupe.shared");
        Path root = prop != null
                ? Path.of(prop)
                : dir == null || dir.getParent() == null
                        ? null
                        : dir.getParent().resolve("shared");
        Path p = root == null ? null : root.resolve(relative);
        assumeTrue(
                p != null && Files.exists(p),
                "reference data " + (p == null ? "../shared/" + relative : p) + " is absent; skipping");
        return p;
    }
}
