package dev.loupe.store.export;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.export.DatasetsFeatures.Feature;
import dev.loupe.store.export.DatasetsFeatures.Sequence;
import dev.loupe.store.export.DatasetsFeatures.Value;
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
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnWriteStore;
import org.apache.parquet.column.ColumnWriter;
import org.apache.parquet.column.ParquetProperties;
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
 * <p>Memory: each file's writer buffers one row group ({@link ExportPlan.Buffers}: 64 MB of
 * activations) before writing it, and reads the store a block at a time; files are written in
 * parallel, one per processor, since Parquet Java encodes value by value.
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
        // Parquet Java encodes value by value: files are encoded in parallel, one per processor.
        int threads = Math.max(1, Math.min(ranges.size(), Runtime.getRuntime().availableProcessors()));
        AtomicLong done = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "parquet-export");
            t.setDaemon(true);
            return t;
        });
        try {
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
                .withValuesWriterFactory(new PlainFloatValues())
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
        int groupSequences = plan.blockSequences(plan.buffers().rowGroupBytes());
        int block = Math.min(groupSequences, plan.blockSequences(plan.buffers().blockBytes() / 2));
        // one block of every hook's activations, reused
        ByteBuffer scratch = ByteBuffer.allocateDirect(Math.toIntExact(block * plan.activationBytesPerSequence()));
        try (ExportFile out = ExportFile.create(file)) {
            ParquetFileWriter writer = new ParquetFileWriter(
                    out.parquet(),
                    schema,
                    ParquetFileWriter.Mode.CREATE,
                    plan.buffers().rowGroupBytes(),
                    0);
            writer.start();
            for (long g = range[0]; g < range[1]; g += groupSequences) {
                if (Thread.interrupted()) throw new java.io.InterruptedIOException("export cancelled");
                long groupEnd = Math.min(range[1], g + groupSequences);
                ColumnChunkPageWriteStore pages = new ColumnChunkPageWriteStore(
                        Uncompressed.INSTANCE,
                        schema,
                        props.getAllocator(),
                        props.getColumnIndexTruncateLength(),
                        props.getPageWriteChecksumEnabled());
                ColumnWriteStore columns = props.newColumnWriteStore(schema, pages, pages);
                long rows = 0;
                for (long s = g;
                        s < groupEnd;
                        s += block) { // a block: half the batch, as the rows are copied once more
                    int n = (int) Math.min(block, groupEnd - s);
                    rows += writeRows(plan, schema, columns, plan.read(s, n), scratch);
                    progress.accept(n * plan.activationBytesPerSequence());
                }
                writer.startBlock(rows);
                columns.flush();
                pages.flushToFileWriter(writer);
                writer.endBlock();
                columns.close();
                pages.close();
            }
            writer.end(kv);
            out.finish();
        }
    }

    /** Writes the block's rows into the row group's column writers; returns how many rows. */
    private static long writeRows(
            ExportPlan plan, MessageType schema, ColumnWriteStore columns, SequenceBlock b, ByteBuffer scratch) {
        boolean bySequence = plan.rows() == ExportOptions.Rows.SEQUENCES;
        int rows = bySequence ? b.sequences : b.rows();
        int perRow = bySequence ? b.context : 1; // tokens per row
        int depth = bySequence ? 2 : 1;
        List<ColumnDescriptor> leaves = schema.getColumns();
        List<String> hooks = plan.hooks();
        int nh = hooks.size();
        ColumnWriter[] w = new ColumnWriter[leaves.size()];
        for (int c = 0; c < w.length; c++) w[c] = columns.getColumnWriter(leaves.get(c));
        int[] d = new int[nh], dl = new int[nh];
        ByteBuffer[] values = new ByteBuffer[nh];
        FloatBuffer[] floats = new FloatBuffer[nh];
        scratch.clear();
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
            floats[h] = values[h].asFloatBuffer();
        }
        int idCol = nh, seqCol = nh + 1, posCol = nh + 2;
        for (int r = 0; r < rows; r++) { // row by row, so that Parquet cuts pages of about the page size
            int token = r * perRow; // the row's first token in the block
            for (int h = 0; h < nh; h++)
                if (plan.width() == 4) writeFloats(w[h], floats[h], token * d[h], perRow, d[h], depth, dl[h]);
                else writeHalves(w[h], values[h], token * d[h], perRow, d[h], depth, dl[h]);
            writeInts(w[idCol], leaves.get(idCol), b.tokens, token, perRow, bySequence);
            w[seqCol].write(b.sequence[token], 0, leaves.get(seqCol).getMaxDefinitionLevel());
            writeInts(w[posCol], leaves.get(posCol), b.position, token, perRow, bySequence);
            columns.endRecord();
        }
        return rows;
    }

    /**
     * One row of a hook: {@code perRow} lists of {@code d} values (a sequence) or one list (a token),
     * from value {@code at}. Repetition level 0 starts the row, {@code depth - 1} a position's list,
     * {@code depth} continues a list.
     */
    private static void writeFloats(ColumnWriter w, FloatBuffer v, int at, int perRow, int d, int depth, int dl) {
        for (int t = 0; t < perRow; t++) {
            w.write(v.get(at++), t > 0 ? depth - 1 : 0, dl);
            for (int k = 1; k < d; k++) w.write(v.get(at++), depth, dl);
        }
    }

    /** As {@link #writeFloats}, float16 as Parquet's FLOAT16 (2-byte fixed-length, little-endian). */
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
