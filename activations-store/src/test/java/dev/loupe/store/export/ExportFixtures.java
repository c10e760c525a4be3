package dev.loupe.store.export;

import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreDType;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Small harvested stores (one per dtype, made once per test JVM) and their .npy exports, the reference. */
final class ExportFixtures {
    static final int CONTEXT = 16;
    static final String RESID = "blocks.0.hook_resid_post";
    static final String Z = "blocks.1.attn.hook_z";
    /** 600 corpus tokens, 15 per sequence after the BOS: 40 sequences in 10 store shards. */
    static final int SEQUENCES = 40;

    private static final Map<StoreDType, Path> STORES = new EnumMap<>(StoreDType.class);
    private static Path root;

    private ExportFixtures() {}

    static synchronized Path store(StoreDType dtype) {
        try {
            if (root == null) {
                root = Files.createTempDirectory("loupe-export-fixtures");
                root.toFile().deleteOnExit();
            }
            Path s = STORES.get(dtype);
            if (s == null) {
                s = Fixtures.harvest(
                        root.resolve("store-" + dtype.label()),
                        Fixtures.tokenCorpus(root, 600, 97, 3),
                        List.of("resid_post0", Z),
                        dtype);
                STORES.put(dtype, s);
            }
            return s;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static ExportResult export(Path store, Path out, ExportFormat format, ExportOptions options) {
        return export(store, out, format, options, ExportPlan.Buffers.DEFAULT);
    }

    /** With small buffers: many record batches, row groups and pages even for the small stores. */
    static ExportResult export(
            Path store, Path out, ExportFormat format, ExportOptions options, ExportPlan.Buffers buffers) {
        try (ActivationStore s = ActivationStore.open(store)) {
            return StoreExport.export(s, out, format, options, buffers, total -> ProgressBar.silent());
        }
    }

    /** The .npy export of a hook, [rows, d], in the dtype the export options ask for. */
    static INDArray npy(Path npyDir, String hook) {
        return NpyReader.read(npyDir.resolve(hook + ".npy"));
    }

    static int[] npyInts(Path npyDir, String name) {
        return NpyReader.read(npyDir.resolve(name + ".npy"))
                .castTo(DataType.INT)
                .toIntVector();
    }

    static long[] npyLongs(Path npyDir, String name) {
        return NpyReader.read(npyDir.resolve(name + ".npy")).toLongVector();
    }
}
