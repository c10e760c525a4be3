package dev.loupe.store.export;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.StoreDType;
import dev.loupe.store.export.DatasetsFeatures.Feature;
import dev.loupe.store.export.DatasetsFeatures.Sequence;
import dev.loupe.store.export.DatasetsFeatures.Value;
import dev.loupe.store.read.ActivationStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.bytes.CapacityByteArrayOutputStream;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnWriteStore;
import org.apache.parquet.column.ColumnWriter;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.column.statistics.FloatStatistics;
import org.apache.parquet.column.statistics.Statistics;
import org.apache.parquet.column.values.ValuesWriter;
import org.apache.parquet.compression.CompressionCodecFactory.BytesInputCompressor;
import org.apache.parquet.hadoop.ColumnChunkPageWriteStore;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Types;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes a store as Parquet files {@code part-00000-of-0000N.parquet}, one row per sequence
 * ({@code <hook>} [context][d], {@code token_ids} [context], {@code sequence}, {@code position}
 * [context]) or per token ({@code <hook>} [d], {@code token_ids}, {@code sequence}, {@code position}).
 *
 * <p>The files are what pyarrow writes for the same table: lists are Parquet's three-level
 * {@code LIST} ({@code <name>.list.element}), every field optional, and the key-value metadata holds
 * {@code ARROW:schema} (the Arrow schema, so pyarrow, polars and {@code datasets} read the
 * fixed-size lists back as such) and {@code huggingface} (the {@code datasets} features, so
 * {@code load_dataset("parquet", ...)} restores {@code Sequence(..., length=n)}). Apache Parquet
 * Java encodes (PLAIN values, RLE levels, dictionaries for {@code token_ids} and {@code position}),
 * uncompressed (float activations do not compress), with min/max/null-count statistics per row group
 * and page indexes; no Hadoop is involved.
 *
 * <p>float32 activations go page by page from the store's files to the file ({@link HookPages}),
 * copied file to file or through one reused page buffer: no value-by-value encoding and no
 * row-group buffer for them. Memory: the small columns
 * of one row group, a block of token ids, and (float16 kept, which Parquet Java encodes value by value)
 * one row group of activations per file; float16 files are written in parallel, one per processor,
 * float32 ones one at a time.
 */
final class ParquetExport {
    private ParquetExport() {}

    /** The {@code datasets} features of the Parquet columns. */
    static DatasetsFeatures features(ExportPlan plan) {
        int context = plan.context();
        boolean bySequence = plan.rows() == ExportOptions.Rows.SEQUENCES;
        Map<String, Feature> cols = new LinkedHashMap<>();
        for (String h : plan.hooks()) {
            Feature row = new Sequence(new Value(plan.dtype()), plan.d(h));
            cols.put(h, bySequence ? new Sequence(row, context) : row);
        }
        Feature id = new Value("int32");
        cols.put("token_ids", bySequence ? new Sequence(id, context) : id);
        cols.put("sequence", new Value("int64"));
        cols.put("position", bySequence ? new Sequence(id, context) : id);
        return new DatasetsFeatures(cols);
    }

    /** The Parquet schema pyarrow derives from the same Arrow schema. */
    static MessageType schema(DatasetsFeatures features) {
        Types.MessageTypeBuilder b = Types.buildMessage();
        features.columns().forEach((name, f) -> b.addField(parquetType(name, f)));
        return b.named("schema");
    }

    private static Type parquetType(String name, Feature f) {
        if (f instanceof Sequence s)
            return Types.optionalGroup()
                    .as(LogicalTypeAnnotation.listType())
                    .addField(Types.repeatedGroup()
                            .addField(parquetType("element", s.feature()))
                            .named("list"))
                    .named(name);
        Value v = (Value) f;
        return switch (v.dtype()) {
            case "float32" -> Types.optional(PrimitiveTypeName.FLOAT).named(name);
            case "float16" -> Types.optional(PrimitiveTypeName.FIXED_LEN_BYTE_ARRAY)
                    .length(2)
                    .as(LogicalTypeAnnotation.float16Type())
                    .named(name);
            case "int32" -> Types.optional(PrimitiveTypeName.INT32).named(name);
            case "int64" -> Types.optional(PrimitiveTypeName.INT64).named(name);
            default -> throw new IllegalArgumentException(v.dtype());
        };
    }

    /** The key-value metadata: {@code huggingface} and {@code ARROW:schema} (base64 of the IPC-serialized schema). */
    static Map<String, String> keyValueMetadata(DatasetsFeatures features) throws IOException {
        ByteArrayOutputStream ipc = new ByteArrayOutputStream();
        MessageSerializer.serialize(new WriteChannel(Channels.newChannel(ipc)), features.arrowSchema());
        Map<String, String> kv = new LinkedHashMap<>(features.schemaMetadata());
        kv.put("ARROW:schema", Base64.getEncoder().encodeToString(ipc.toByteArray()));
        return kv;
    }

    static List<Path> write(ExportPlan plan, Path dir, ProgressBar progress) throws IOException {
        DatasetsFeatures features = features(plan);
        MessageType schema = schema(features);
        Map<String, String> kv = keyValueMetadata(features);
        List<long[]> ranges = plan.files();
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < ranges.size(); i++)
            files.add(dir.resolve(String.format(Locale.ROOT, "part-%05d-of-%05d.parquet", i, ranges.size())));
        // float16 kept: Parquet Java encodes value by value, so files are encoded in parallel, one per
        // processor. float32 pages are the store's bytes: the export waits on the disk, and a second
        // writer did not help on 2 cores (bench-export ratio 0.52 with one file at a time, 0.31 with two).
        int parallel = plan.width() == Float.BYTES ? 1 : Runtime.getRuntime().availableProcessors();
        int threads = Math.max(1, Math.min(ranges.size(), parallel));
        AtomicLong done = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "parquet-export");
            t.setDaemon(true);
            return t;
        });
        try (WriteBehind disk = new WriteBehind()) {
            List<Future<?>> jobs = new ArrayList<>();
            for (int i = 0; i < ranges.size(); i++) {
                Path file = files.get(i);
                long[] range = ranges.get(i);
                jobs.add(pool.submit(() -> {
                    writeFile(plan, schema, kv, file, range, bytes -> {
                        long total = done.addAndGet(bytes);
                        synchronized (progress) {
                            progress.update(total, file.getFileName().toString());
                        }
                    });
                    disk.written(file);
                    return null;
                }));
            }
            for (Future<?> job : jobs) {
                try {
                    job.get();
                } catch (ExecutionException e) {
                    jobs.forEach(j -> j.cancel(true));
                    Throwable cause = e.getCause();
                    if (cause instanceof IOException io) throw io;
                    if (cause instanceof RuntimeException re) throw re;
                    if (cause instanceof Error err) throw err;
                    throw new IOException(cause);
                }
            }
            disk.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            pool.shutdownNow();
            try {
                pool.awaitTermination(1, TimeUnit.MINUTES); // no worker still writes when the folder is removed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return files;
    }

    private static ParquetProperties properties(ExportPlan plan, MessageType schema) {
        long rowBytes = plan.rows() == ExportOptions.Rows.SEQUENCES
                ? plan.activationBytesPerSequence()
                : plan.activationBytesPerSequence() / Math.max(1, plan.context());
        // Parquet checks a page's size only every so many rows (100 at first): a sequence's activations
        // are hundreds of kB, so check after every row that could fill a page.
        int page = plan.buffers().pageBytes();
        int check = (int) Math.max(1, Math.min(100, page / Math.max(1, rowBytes)));
        ParquetProperties.Builder b = ParquetProperties.builder()
                .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_1_0)
                .withPageSize(page)
                .withMinRowCountForPageSizeCheck(check)
                .withMaxRowCountForPageSizeCheck(Math.max(check, 10_000))
                .withSizeStatisticsEnabled(false) // level histograms: per-value work no reader here needs
                .withPageWriteChecksumEnabled(false) // as pyarrow: a copy and a CRC32 of every page saved
                .withDictionaryEncoding(false);
        for (ColumnDescriptor c : schema.getColumns())
            if (c.getPath()[0].equals("token_ids") || c.getPath()[0].equals("position"))
                b.withDictionaryEncoding(String.join(".", c.getPath()), true);
        return b.build();
    }

    private static void writeFile(
            ExportPlan plan,
            MessageType schema,
            Map<String, String> kv,
            Path file,
            long[] range,
            java.util.function.LongConsumer progress)
            throws IOException {
        ParquetProperties props = properties(plan, schema);
        int nh = plan.hooks().size();
        // float32 activations are written page by page from the store's bytes (HookPages); float16 ones
        // value by value through Parquet's column writers, with the other columns
        boolean pagesFromStore = plan.width() == Float.BYTES;
        MessageType encoded = pagesFromStore
                ? new MessageType(schema.getName(), schema.getFields().subList(nh, schema.getFieldCount()))
                : schema;
        HookPages hookPages = pagesFromStore ? new HookPages(plan, props, schema) : null;
        int groupSequences = plan.blockSequences(plan.buffers().rowGroupBytes());
        int block = Math.min(groupSequences, plan.blockSequences(plan.buffers().blockBytes() / 2));
        // one block of every hook's activations, reused (float16 only)
        ByteBuffer scratch = pagesFromStore
                ? null
                : ByteBuffer.allocateDirect(Math.toIntExact(block * plan.activationBytesPerSequence()));
        try (ExportFile out = ExportFile.create(file)) {
            ParquetFileWriter writer = new ParquetFileWriter(
                    out.parquet(),
                    schema,
                    ParquetFileWriter.Mode.CREATE,
                    plan.buffers().rowGroupBytes(),
                    0,
                    props.getColumnIndexTruncateLength(),
                    props.getStatisticsTruncateLength(),
                    props.getPageWriteChecksumEnabled());
            writer.start();
            for (long g = range[0]; g < range[1]; g += groupSequences) {
                if (Thread.interrupted()) throw new java.io.InterruptedIOException("export cancelled");
                long groupEnd = Math.min(range[1], g + groupSequences);
                ColumnChunkPageWriteStore pages = new ColumnChunkPageWriteStore(
                        Uncompressed.INSTANCE,
                        encoded,
                        props.getAllocator(),
                        props.getColumnIndexTruncateLength(),
                        props.getPageWriteChecksumEnabled());
                ColumnWriteStore columns = props.newColumnWriteStore(encoded, pages, pages);
                long rows = 0;
                for (long s = g;
                        s < groupEnd;
                        s += block) { // a block: half the batch, as the rows are copied once more
                    int n = (int) Math.min(block, groupEnd - s);
                    rows += writeRows(plan, encoded, columns, plan.read(s, n), scratch, !pagesFromStore);
                    if (!pagesFromStore) progress.accept(n * plan.activationBytesPerSequence());
                }
                writer.startBlock(rows);
                if (pagesFromStore) // the hooks' column chunks first, in schema order
                for (int h = 0; h < nh; h++) hookPages.write(writer, h, g, groupEnd, progress);
                columns.flush();
                pages.flushToFileWriter(writer);
                writer.endBlock();
                columns.close();
                pages.close();
            }
            writer.end(kv); // forced in the background (WriteBehind) while the next file is written
        }
    }

    /**
     * Writes the block's rows into the row group's column writers; returns how many rows. {@code
     * withHooks}: the hooks' columns too (the first leaves), else only {@code token_ids}, {@code
     * sequence}, {@code position}.
     */
    private static long writeRows(
            ExportPlan plan,
            MessageType schema,
            ColumnWriteStore columns,
            SequenceBlock b,
            ByteBuffer scratch,
            boolean withHooks) {
        boolean bySequence = plan.rows() == ExportOptions.Rows.SEQUENCES;
        int rows = bySequence ? b.sequences : b.rows();
        int perRow = bySequence ? b.context : 1; // tokens per row
        int depth = bySequence ? 2 : 1;
        List<ColumnDescriptor> leaves = schema.getColumns();
        List<String> hooks = plan.hooks();
        int nh = withHooks ? hooks.size() : 0;
        ColumnWriter[] w = new ColumnWriter[leaves.size()];
        for (int c = 0; c < w.length; c++) w[c] = columns.getColumnWriter(leaves.get(c));
        int[] d = new int[nh], dl = new int[nh];
        ByteBuffer[] values = new ByteBuffer[nh];
        if (withHooks) scratch.clear();
        for (int h = 0; h < nh; h++) { // each hook's block in one bulk copy
            d[h] = plan.d(hooks.get(h));
            dl[h] = leaves.get(h).getMaxDefinitionLevel();
            int from = scratch.position();
            b.activations(hooks.get(h), scratch);
            values[h] = scratch.duplicate()
                    .position(from)
                    .limit(scratch.position())
                    .slice()
                    .order(ByteOrder.LITTLE_ENDIAN);
        }
        int idCol = nh, seqCol = nh + 1, posCol = nh + 2;
        for (int r = 0; r < rows; r++) { // row by row, so that Parquet cuts pages of about the page size
            int token = r * perRow; // the row's first token in the block
            for (int h = 0; h < nh; h++) writeHalves(w[h], values[h], token * d[h], perRow, d[h], depth, dl[h]);
            writeInts(w[idCol], leaves.get(idCol), b.tokens, token, perRow, bySequence);
            w[seqCol].write(b.sequence[token], 0, leaves.get(seqCol).getMaxDefinitionLevel());
            writeInts(w[posCol], leaves.get(posCol), b.position, token, perRow, bySequence);
            columns.endRecord();
        }
        return rows;
    }

    /**
     * The float32 hooks' column chunks, written page by page from the store: PLAIN encoding is 4-byte
     * little-endian IEEE 754 per value, which is what an f32 store holds, so a page's values are the
     * stored bytes as they are. Every row has the same shape, so the repetition and definition levels
     * of a page of n rows are the same bytes for every page: Parquet's level encoder (RLE) encodes them
     * once per column and page length. Parquet Java writes the page headers, column index, offset
     * index and footer.
     *
     * <p>A page's values and statistics come, fastest first: (1) for an f32 store that recorded each
     * row's min and max at harvest time ({@link ActivationStore#valueRange}), the statistics from
     * those and the values copied file to file inside the kernel ({@link ActivationStore#fileRanges},
     * as the npy export copies them) — the bytes never enter the JVM; (2) for an older f32 store, or
     * a page holding a NaN (Parquet's statistics rules for NaN then apply value by value), the values
     * read into one reused page buffer ({@link ActivationStore#readRows}: positional reads, as the
     * memory-mapped bytes cost a page fault per 4 KB on their first touch, 3.5 times a read on this
     * project's VMs) and a min/max pass over them; (3) for a bf16 or f16 store, the rows converted to
     * float32 into that buffer.
     */
    private static final class HookPages {
        private final ExportPlan plan;
        private final ParquetProperties props;
        private final List<ColumnDescriptor> leaves;
        private final boolean bySequence;
        private final boolean storedAsFloat32; // the store's bytes are the page's values
        private final Map<Long, BytesInput> levels = new java.util.HashMap<>(); // (hook, rows per page) -> levels
        private ByteBuffer scratch; // one page of values (allocated when first needed, reused)
        private final float[] chunk = new float[1 << 14]; // values for the statistics pass

        HookPages(ExportPlan plan, ParquetProperties props, MessageType schema) {
            this.plan = plan;
            this.props = props;
            this.leaves = schema.getColumns();
            this.bySequence = plan.rows() == ExportOptions.Rows.SEQUENCES;
            this.storedAsFloat32 = plan.store().dtype() == StoreDType.F32;
        }

        /** Hook {@code h}'s column chunk of the sequences {@code [first, end)}. */
        void write(ParquetFileWriter writer, int h, long first, long end, java.util.function.LongConsumer progress)
                throws IOException {
            String hook = plan.hooks().get(h);
            ColumnDescriptor c = leaves.get(h);
            int d = plan.d(hook), context = plan.context();
            int tokensPerRow = bySequence ? context : 1;
            long rowBytes = (long) tokensPerRow * d * Float.BYTES;
            int pageRows = (int) Math.max(1, plan.buffers().pageBytes() / rowBytes);
            long firstToken = first * context, endToken = end * context;
            writer.startColumn(c, (endToken - firstToken) * d, CompressionCodecName.UNCOMPRESSED);
            for (long t = firstToken; t < endToken; ) {
                int rows = (int) Math.min(pageRows, (endToken - t) / tokensPerRow);
                int tokens = rows * tokensPerRow;
                long bytes = (long) tokens * d * Float.BYTES;
                ActivationStore.ValueRange range =
                        storedAsFloat32 ? plan.store().valueRange(hook, t, tokens) : null;
                BytesInput values;
                Statistics<?> stats;
                if (range != null && !range.hasNaN()) {
                    values = PageValues.of(plan.store().fileRanges(hook, t, tokens), bytes);
                    stats = statistics(c, range.min(), range.max());
                } else {
                    ByteBuffer v = read(hook, t, tokens, bytes);
                    values = PageValues.of(v);
                    stats = statistics(c, v);
                }
                BytesInput page = BytesInput.concat(levels(h, c, rows, tokensPerRow, d), values);
                writer.writeDataPage(
                        tokens * d,
                        Math.toIntExact(page.size()),
                        page,
                        stats,
                        rows,
                        Encoding.RLE,
                        Encoding.RLE,
                        Encoding.PLAIN);
                progress.accept(bytes);
                t += tokens;
            }
            writer.endColumn();
        }

        /** The rows' values, as float32, in the page buffer. */
        private ByteBuffer read(String hook, long token, int tokens, long bytes) {
            if (scratch == null || scratch.capacity() < bytes)
                scratch = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
            scratch.clear();
            if (storedAsFloat32) plan.store().readRows(hook, token, tokens, scratch);
            else {
                INDArray x = plan.store().rows(hook, token, tokens); // [tokens, d] float32
                scratch.put(NativeBytes.of(x));
                java.lang.ref.Reference.reachabilityFence(x);
                NativeBytes.free(x);
            }
            return scratch.flip();
        }

        /**
         * Repetition then definition levels of {@code rows} rows, as a V1 data page holds them (each
         * RLE, prefixed by its length): 0 starts a row, {@code maxRep - 1} a position's list ({@code
         * maxRep} is 2 for a row per sequence), {@code maxRep} continues a list; every value is defined.
         */
        private BytesInput levels(int h, ColumnDescriptor c, int rows, int tokensPerRow, int d) {
            return levels.computeIfAbsent(((long) h << 32) | rows, k -> {
                ValuesWriter rl = props.newRepetitionLevelWriter(c), dl = props.newDefinitionLevelWriter(c);
                int maxRep = c.getMaxRepetitionLevel(), maxDef = c.getMaxDefinitionLevel();
                for (int r = 0; r < rows; r++)
                    for (int t = 0; t < tokensPerRow; t++)
                        for (int i = 0; i < d; i++) {
                            rl.writeInteger(i > 0 ? maxRep : t > 0 ? maxRep - 1 : 0);
                            dl.writeInteger(maxDef);
                        }
                try {
                    return BytesInput.from(
                            BytesInput.concat(rl.getBytes(), dl.getBytes()).toByteArray());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                } finally {
                    rl.close();
                    dl.close();
                }
            });
        }

        /** Statistics of a page whose values (none NaN) span [min, max]: as Parquet keeps them. */
        private static Statistics<?> statistics(ColumnDescriptor c, float min, float max) {
            FloatStatistics stats = (FloatStatistics) Statistics.createStats(c.getPrimitiveType());
            stats.updateStats(min);
            stats.updateStats(max);
            return stats;
        }

        /**
         * The page's min and max, as Parquet's statistics keep them, in one pass: a value inside the
         * running [min, max] (nearly all of them) costs two comparisons and one branch; a page with a
         * NaN goes value by value through Parquet's own rules.
         */
        private Statistics<?> statistics(ColumnDescriptor c, ByteBuffer values) {
            FloatBuffer v = values.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            int n = v.limit();
            // Math.min/max over a float[] chunk: C2 vectorizes these reductions (a branchy loop over the
            // buffer took 0.5 s of a 2 GB export); a NaN makes min or max NaN, then Parquet's own rules
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int from = 0; from < n; from += chunk.length) {
                int len = Math.min(chunk.length, n - from);
                v.get(from, chunk, 0, len);
                for (int i = 0; i < len; i++) {
                    min = Math.min(min, chunk[i]);
                    max = Math.max(max, chunk[i]);
                }
            }
            if (!Float.isNaN(min) && !Float.isNaN(max))
                return n == 0 ? Statistics.createStats(c.getPrimitiveType()) : statistics(c, min, max);
            FloatStatistics stats = (FloatStatistics) Statistics.createStats(c.getPrimitiveType());
            for (int j = 0; j < n; j++) stats.updateStats(v.get(j));
            return stats;
        }
    }

    /**
     * A page's values as Parquet's bytes, handed to the file in one call: a buffer to {@link
     * ExportFile.ParquetStream#writeBuffer}, or ranges of the store's files to {@link
     * ExportFile.ParquetStream#transfer} (copied inside the kernel). {@code BytesInput.from(ByteBuffer)}
     * would hand a buffer to the file 8 KB at a time through a heap array (two more copies of every
     * byte; the 2 GB export took 3.8-4.2 s that way, 3.2-3.5 s with the buffer in one call).
     * BytesInput cannot be subclassed outside its package; its public wrapper of a {@link
     * CapacityByteArrayOutputStream} asks that stream only for {@code size()} and {@code
     * writeTo(out)}, which this subclass answers (nothing is ever written into it).
     */
    private static final class PageValues extends CapacityByteArrayOutputStream {
        private final ByteBuffer values; // or
        private final List<ActivationStore.FileRange> ranges;
        private final long size;

        private PageValues(ByteBuffer values, List<ActivationStore.FileRange> ranges, long size) {
            super(1, 1);
            this.values = values;
            this.ranges = ranges;
            this.size = size;
        }

        static BytesInput of(ByteBuffer values) {
            return BytesInput.from(new PageValues(values, null, values.remaining()));
        }

        static BytesInput of(List<ActivationStore.FileRange> ranges, long size) {
            long sum =
                    ranges.stream().mapToLong(ActivationStore.FileRange::bytes).sum();
            if (sum != size) throw new IllegalStateException("file ranges of " + sum + " bytes for a page of " + size);
            return BytesInput.from(new PageValues(null, ranges, size));
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public void writeTo(java.io.OutputStream out) throws IOException {
            // ParquetFileWriter writes only to the stream ExportFile.parquet() made
            if (!(out instanceof ExportFile.ParquetStream file))
                throw new IllegalStateException("page values go to an ExportFile, not " + out.getClass());
            if (values != null) file.writeBuffer(values);
            else for (ActivationStore.FileRange r : ranges) file.transfer(r);
        }

        @Override
        public void write(int b) {
            throw new UnsupportedOperationException("a page's values are read-only");
        }

        @Override
        public void write(byte[] b, int off, int len) {
            throw new UnsupportedOperationException("a page's values are read-only");
        }
    }

    /**
     * One row of a float16 hook: {@code perRow} lists of {@code d} values (a sequence) or one list (a
     * token), from value {@code at}, as Parquet's FLOAT16 (2-byte fixed-length, little-endian).
     * Repetition level 0 starts the row, {@code depth - 1} a position's list, {@code depth} continues
     * a list.
     */
    private static void writeHalves(ColumnWriter w, ByteBuffer v, int at, int perRow, int d, int depth, int dl) {
        for (int t = 0; t < perRow; t++)
            for (int k = 0; k < d; k++, at++) {
                int rl = k > 0 ? depth : t > 0 ? depth - 1 : 0;
                // statistics keep min/max Binaries: a fresh array per value
                w.write(Binary.fromConstantByteArray(new byte[] {v.get(2 * at), v.get(2 * at + 1)}), rl, dl);
            }
    }

    /** An int32 column: one value per row, or a list of {@code count} per row. */
    private static void writeInts(ColumnWriter w, ColumnDescriptor c, int[] values, int from, int count, boolean list) {
        int dl = c.getMaxDefinitionLevel();
        if (!list) w.write(values[from], 0, dl);
        else for (int i = 0; i < count; i++) w.write(values[from + i], i == 0 ? 0 : 1, dl);
    }

    /** Pages stored as they are encoded (Parquet's UNCOMPRESSED codec). */
    private enum Uncompressed implements BytesInputCompressor {
        INSTANCE;

        @Override
        public BytesInput compress(BytesInput bytes) {
            return bytes;
        }

        @Override
        public CompressionCodecName getCodecName() {
            return CompressionCodecName.UNCOMPRESSED;
        }

        @Override
        public void release() {}
    }
}
