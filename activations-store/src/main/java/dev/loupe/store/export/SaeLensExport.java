package dev.loupe.store.export;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.export.DatasetsFeatures.Array2D;
import dev.loupe.store.export.DatasetsFeatures.Feature;
import dev.loupe.store.export.DatasetsFeatures.Sequence;
import dev.loupe.store.export.DatasetsFeatures.Value;
import dev.loupe.store.read.ActivationStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;

/**
 * Writes a store as the folder SAELens's {@code CacheActivationsRunner} writes (and trains from with
 * {@code cached_activations_path}): Hugging Face {@code datasets}' {@code save_to_disk} layout.
 *
 * <pre>
 *   data-00000-of-0000N.arrow   Arrow IPC streams; one row per sequence
 *   dataset_info.json           the features: {hook: Array2D(shape=(context, d), dtype), ..., token_ids: Sequence(int32, length=context)}
 *   state.json                  the file list, a fingerprint of the store and export, no format set
 * </pre>
 *
 * Columns are the hooks in order, then {@code token_ids}, as SAELens's {@code _create_shard} builds
 * them. Each file is written in record batches of about {@link ExportPlan.Buffers#blockBytes()} of
 * activations (32 MB): a batch's values are read from the shard files into one buffer per hook
 * ({@link ActivationStore#readRows}; handing Arrow the memory-mapped bytes instead made the kernel
 * fault every page in, 2.4 s of a 4.2 s export of 2 GB), and offsets, validity and token ids live
 * in buffers allocated once per file. Memory stays bounded by one batch whatever the file size.
 */
final class SaeLensExport {
    private SaeLensExport() {}

    /** {@code {hook: Array2D(shape=(context, d), dtype)}, token_ids: Sequence(Value("int32"), length=context)}. */
    static DatasetsFeatures features(ExportPlan plan) {
        Map<String, Feature> cols = new LinkedHashMap<>();
        for (String h : plan.hooks()) cols.put(h, new Array2D(plan.context(), plan.d(h), plan.dtype()));
        cols.put("token_ids", new Sequence(new Value("int32"), plan.context()));
        return new DatasetsFeatures(cols);
    }

    static List<Path> write(ExportPlan plan, Path dir, ProgressBar progress) throws IOException {
        DatasetsFeatures features = features(plan);
        List<long[]> ranges = plan.files();
        List<Path> written = new ArrayList<>();
        long[] done = {0};
        try (BufferAllocator allocator = new RootAllocator();
                WriteBehind disk = new WriteBehind()) {
            for (int i = 0; i < ranges.size(); i++) {
                Path file = dir.resolve(String.format(Locale.ROOT, "data-%05d-of-%05d.arrow", i, ranges.size()));
                writeFile(plan, features, file, ranges.get(i), allocator, progress, done);
                written.add(file);
                disk.written(file);
            }
            disk.await();
        }
        List<Path> data = List.copyOf(written);
        written.add(ExportFile.writeText(dir.resolve("dataset_info.json"), features.datasetInfoJson()));
        written.add(ExportFile.writeText(
                dir.resolve("state.json"), stateJson(data, ExportFingerprint.of(plan, ExportFormat.SAELENS))));
        return written;
    }

    private static void writeFile(
            ExportPlan plan,
            DatasetsFeatures features,
            Path file,
            long[] range,
            BufferAllocator allocator,
            ProgressBar progress,
            long[] done)
            throws IOException {
        int block = (int) Math.min(plan.blockSequences(plan.buffers().blockBytes()), Math.max(1, range[1] - range[0]));
        try (VectorSchemaRoot root = VectorSchemaRoot.create(features.arrowSchema(), allocator);
                Copies copies = new Copies(allocator);
                ExportFile out = ExportFile.create(file);
                ArrowStreamWriter writer = new ArrowStreamWriter(root, null, out)) {
            allocate(root, plan, block); // once: every batch reuses the buffers
            writer.start();
            for (long s = range[0]; s < range[1]; ) {
                int n = (int) Math.min(range[1] - s, block);
                fill(root, plan, plan.read(s, n), copies);
                writer.writeBatch();
                done[0] += n * plan.activationBytesPerSequence();
                progress.update(done[0], file.getFileName().toString());
                s += n;
            }
            writer.end(); // forced in the background (WriteBehind) while the next file is written
        }
    }

    /**
     * Offsets, validity and token id buffers for batches of up to {@code sequences} rows; the
     * activation values get their buffers per batch ({@link #fill}).
     */
    private static void allocate(VectorSchemaRoot root, ExportPlan plan, int sequences) {
        int tokens = Math.multiplyExact(sequences, plan.context());
        for (String h : plan.hooks()) {
            ListVector seqs = (ListVector) root.getVector(h);
            seqs.setInitialTotalCapacity(sequences, tokens);
            ((ListVector) seqs.getDataVector()).setInitialTotalCapacity(tokens, 1);
            seqs.allocateNew();
        }
        FixedSizeListVector ids = (FixedSizeListVector) root.getVector("token_ids");
        ids.setInitialCapacity(sequences);
        ids.allocateNew();
    }

    /** One record batch: the block's sequences as rows, each hook's values read into that hook's buffer. */
    private static void fill(VectorSchemaRoot root, ExportPlan plan, SequenceBlock b, Copies copies) {
        int n = b.sequences, tokens = b.rows(), context = b.context;
        for (String h : plan.hooks()) {
            int d = plan.d(h);
            ListVector seqs = (ListVector) root.getVector(h); // [n] lists of context positions
            ListVector positions = (ListVector) seqs.getDataVector(); // [n * context] lists of d values
            FieldVector values = positions.getDataVector(); // [n * context * d]
            int count = Math.multiplyExact(tokens, d);
            for (int i = 0; i < n; i++) {
                seqs.startNewValue(i);
                seqs.endValue(i, context);
            }
            for (int j = 0; j < tokens; j++) {
                positions.startNewValue(j);
                positions.endValue(j, d);
            }
            try (ArrowBuf data = copies.of(h, b)) {
                // no nulls: Arrow gives the values an all-set validity bitmap of their count
                values.loadFieldBuffers(new ArrowFieldNode(count, 0), List.of(copies.empty(), data));
            }
        }
        FixedSizeListVector ids = (FixedSizeListVector) root.getVector("token_ids");
        IntVector idValues = (IntVector) ids.getDataVector();
        for (int i = 0; i < n; i++) ids.setNotNull(i);
        for (int j = 0; j < tokens; j++) idValues.set(j, b.tokens[j]);
        root.setRowCount(n);
    }

    /** The values' buffers: one per hook, allocated on first use, reused by every batch. */
    private static final class Copies implements AutoCloseable {
        private final BufferAllocator allocator;
        private final Map<String, ArrowBuf> buffers = new LinkedHashMap<>();

        Copies(BufferAllocator allocator) {
            this.allocator = allocator;
        }

        /** The block's values of {@code hook}, read (and cast) into this hook's buffer; a new reference the caller closes. */
        ArrowBuf of(String hook, SequenceBlock b) {
            long bytes = b.bytes(hook);
            ArrowBuf buf = buffers.get(hook);
            if (buf == null || buf.capacity() < bytes) {
                if (buf != null) buf.close();
                buf = allocator.buffer(bytes);
                buffers.put(hook, buf);
            }
            b.activations(hook, buf.nioBuffer(0, Math.toIntExact(bytes)));
            buf.getReferenceManager().retain();
            return buf.slice(0, bytes);
        }

        /** An empty buffer (the values' validity: none are null). */
        ArrowBuf empty() {
            return allocator.getEmpty();
        }

        @Override
        public void close() {
            buffers.values().forEach(ArrowBuf::close);
        }
    }

    /**
     * {@code state.json} as {@code save_to_disk} writes it ({@code json.dump(state, indent=2,
     * sort_keys=True)}): the data files, the fingerprint, and no format, columns or split.
     */
    static String stateJson(List<Path> dataFiles, String fingerprint) {
        var o = PythonJson.object();
        var files = o.putArray("_data_files");
        for (Path p : dataFiles)
            files.addObject().put("filename", p.getFileName().toString());
        o.put("_fingerprint", fingerprint);
        o.putNull("_format_columns");
        o.putObject("_format_kwargs");
        o.putNull("_format_type");
        o.put("_output_all_columns", false);
        o.putNull("_split");
        return PythonJson.dumpsIndented(o);
    }
}
