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

    /**
     * A copy of {@code store} at {@code copy} as a store harvested before each row's min and max were
     * recorded: the stats files without {@code <hook>.row_min}/{@code row_max}, the manifest describing them.
     */
    public static Path withoutRowBounds(Path store, Path copy) throws java.io.IOException {
        try (java.util.stream.Stream<Path> files = Files.walk(store)) {
            for (Path f : files.toList()) {
                Path to = copy.resolve(store.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(to);
                else if (!f.getFileName().toString().equals(".lock")) Files.copy(f, to);
            }
        }
        StoreManifest m = StoreManifest.read(copy);
        java.util.List<StoreManifest.ShardInfo> shards = new java.util.ArrayList<>();
        for (StoreManifest.ShardInfo s : m.shards()) {
            String stats = dev.loupe.store.write.StoreWriter.STATS_FILE;
            Path file = copy.resolve(s.files().get(stats).path());
            java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> kept = new java.util.LinkedHashMap<>();
            try (dev.loupe.engine.io.SafetensorsReader r = dev.loupe.engine.io.SafetensorsReader.open(file)) {
                for (String name : r.names())
                    if (!name.endsWith(".row_min") && !name.endsWith(".row_max")) kept.put(name, r.read(name));
            }
            Files.delete(file);
            dev.loupe.engine.io.SafetensorsWriter.write(file, kept, java.util.Map.of("format", StoreManifest.FORMAT));
            long offset = ShardChecksum.dataOffset(file);
            java.util.Map<String, StoreManifest.FileEntry> entries = new java.util.LinkedHashMap<>(s.files());
            entries.put(
                    stats,
                    new StoreManifest.FileEntry(
                            s.files().get(stats).path(), Files.size(file), offset, ShardChecksum.ofData(file, offset)));
            shards.add(new StoreManifest.ShardInfo(
                    s.index(), s.firstRow(), s.rows(), s.firstSequence(), s.sequences(), entries));
        }
        m.withShards(shards).write(copy);
        return copy;
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
