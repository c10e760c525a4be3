package dev.loupe.store.export;

import static dev.loupe.store.export.ExportFixtures.CONTEXT;
import static dev.loupe.store.export.ExportFixtures.RESID;
import static dev.loupe.store.export.ExportFixtures.SEQUENCES;
import static dev.loupe.store.export.ExportFixtures.Z;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.write.StoreWriter;
import java.io.ByteArrayInputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.column.statistics.Statistics;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The Parquet export read back with Apache Parquet's Java reader (no Hadoop): the schema pyarrow
 * writes for fixed-size list columns, the {@code huggingface} and {@code ARROW:schema} metadata,
 * row-group statistics, and every value equal to the .npy export's, a row per sequence or per token.
 */
class ParquetExportTest {
    @TempDir
    Path tmp;

    static final String SEQUENCE_ROWS_SCHEMA =
            """
            message schema {
              optional group blocks.0.hook_resid_post (LIST) {
                repeated group list {
                  optional group element (LIST) {
                    repeated group list {
                      optional float element;
                    }
                  }
                }
              }
              optional group blocks.1.attn.hook_z (LIST) {
                repeated group list {
                  optional group element (LIST) {
                    repeated group list {
                      optional float element;
                    }
                  }
                }
              }
              optional group token_ids (LIST) {
                repeated group list {
                  optional int32 element;
                }
              }
              optional int64 sequence;
              optional group position (LIST) {
                repeated group list {
                  optional int32 element;
                }
              }
            }
            """;

    static final String TOKEN_ROWS_SCHEMA =
            """
            message schema {
              optional group blocks.0.hook_resid_post (LIST) {
                repeated group list {
                  optional float element;
                }
              }
              optional group blocks.1.attn.hook_z (LIST) {
                repeated group list {
                  optional float element;
                }
              }
              optional int32 token_ids;
              optional int64 sequence;
              optional int32 position;
            }
            """;

    static final String SEQUENCE_ROWS_FEATURES = "{\"info\": {\"features\": {"
            + "\"blocks.0.hook_resid_post\": {\"feature\": {\"feature\": {\"dtype\": \"float32\", \"_type\": \"Value\"},"
            + " \"length\": 32, \"_type\": \"Sequence\"}, \"length\": 16, \"_type\": \"Sequence\"}, "
            + "\"blocks.1.attn.hook_z\": {\"feature\": {\"feature\": {\"dtype\": \"float32\", \"_type\": \"Value\"},"
            + " \"length\": 32, \"_type\": \"Sequence\"}, \"length\": 16, \"_type\": \"Sequence\"}, "
            + "\"token_ids\": {\"feature\": {\"dtype\": \"int32\", \"_type\": \"Value\"}, \"length\": 16, \"_type\": \"Sequence\"}, "
            + "\"sequence\": {\"dtype\": \"int64\", \"_type\": \"Value\"}, "
            + "\"position\": {\"feature\": {\"dtype\": \"int32\", \"_type\": \"Value\"}, \"length\": 16, \"_type\": \"Sequence\"}}}}";

    static final String TOKEN_ROWS_FEATURES = "{\"info\": {\"features\": {"
            + "\"blocks.0.hook_resid_post\": {\"feature\": {\"dtype\": \"float32\", \"_type\": \"Value\"}, \"length\": 32, \"_type\": \"Sequence\"}, "
            + "\"blocks.1.attn.hook_z\": {\"feature\": {\"dtype\": \"float32\", \"_type\": \"Value\"}, \"length\": 32, \"_type\": \"Sequence\"}, "
            + "\"token_ids\": {\"dtype\": \"int32\", \"_type\": \"Value\"}, "
            + "\"sequence\": {\"dtype\": \"int64\", \"_type\": \"Value\"}, "
            + "\"position\": {\"dtype\": \"int32\", \"_type\": \"Value\"}}}}";

    @Test
    void aRowPerSequenceReadsBackAsTheNpyExport() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path npy = tmp.resolve("npy"), out = tmp.resolve("parquet");
        ExportFixtures.export(store, npy, ExportFormat.NPY, ExportOptions.defaults());
        // files of 14, 13, 13 sequences; row groups of 5 sequences (20 kB); 4 kB pages: 2 pages per row group's hook
        // chunk
        ExportResult r = ExportFixtures.export(
                store,
                out,
                ExportFormat.PARQUET,
                ExportOptions.defaults().withShardBytes(80_000),
                new ExportPlan.Buffers(8_192, 20_480, 4_096));
        assertEquals(
                List.of("part-00000-of-00003.parquet", "part-00001-of-00003.parquet", "part-00002-of-00003.parquet"),
                r.files().stream().map(p -> p.getFileName().toString()).toList());
        for (Path f : r.files()) assertTrue(java.nio.file.Files.size(f) <= 80_000, f + " is within the bound");
        Reference ref = new Reference(npy);
        int sequence = 0;
        for (Path f : r.files()) {
            ParquetMetadata footer = footer(f);
            MessageType schema = footer.getFileMetaData().getSchema();
            assertEquals(SEQUENCE_ROWS_SCHEMA, schema.toString());
            assertMetadata(footer, SEQUENCE_ROWS_FEATURES, true);
            assertStatistics(footer);
            assertEquals(3, footer.getBlocks().size(), f + ": row groups");
            assertEquals(5, footer.getBlocks().get(0).getRowCount());
            try (ParquetFileReader reader = open(f)) {
                ColumnChunkMetaData resid =
                        footer.getBlocks().get(0).getColumns().get(0);
                // 5 rows of 2 kB per hook, 4 kB pages: a page every 2 rows
                assertEquals(3, reader.readOffsetIndex(resid).getPageCount(), "pages of " + resid.getPath());
            }
            for (Group g : read(f)) {
                for (String h : List.of(RESID, Z)) {
                    Group seq = g.getGroup(h, 0);
                    assertEquals(CONTEXT, seq.getFieldRepetitionCount("list"));
                    for (int t = 0; t < CONTEXT; t++) {
                        Group row = seq.getGroup("list", t).getGroup("element", 0);
                        assertEquals(32, row.getFieldRepetitionCount("list"));
                        for (int k = 0; k < 32; k++)
                            assertEquals(
                                    ref.value(h, sequence * CONTEXT + t, k),
                                    row.getGroup("list", k).getFloat("element", 0),
                                    h + " sequence " + sequence + " position " + t + " dim " + k);
                    }
                }
                Group ids = g.getGroup("token_ids", 0), pos = g.getGroup("position", 0);
                for (int t = 0; t < CONTEXT; t++) {
                    assertEquals(
                            ref.tokens[sequence * CONTEXT + t],
                            ids.getGroup("list", t).getInteger("element", 0));
                    assertEquals(t, pos.getGroup("list", t).getInteger("element", 0));
                }
                assertEquals(sequence, g.getLong("sequence", 0));
                sequence++;
            }
        }
        assertEquals(SEQUENCES, sequence);
        assertValues(r.files(), npy); // and the hooks' statistics
    }

    /**
     * A store harvested before each row's min and max were recorded exports through a pass over the
     * values: the same files, byte for byte, as the statistics from the recorded bounds and the values
     * copied file to file.
     */
    @Test
    void recordedRowBoundsGiveTheSameFilesAsAPassOverTheValues() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path old = dev.loupe.store.Fixtures.withoutRowBounds(store, tmp.resolve("old-store"));
        for (ExportOptions.Rows rows : ExportOptions.Rows.values()) {
            ExportOptions o = ExportOptions.defaults().withRows(rows).withShardBytes(80_000);
            ExportPlan.Buffers b = new ExportPlan.Buffers(8_192, 20_480, 4_096);
            List<Path> fast = ExportFixtures.export(store, tmp.resolve("a-" + rows), ExportFormat.PARQUET, o, b)
                    .files();
            List<Path> pass = ExportFixtures.export(old, tmp.resolve("b-" + rows), ExportFormat.PARQUET, o, b)
                    .files();
            assertEquals(fast.size(), pass.size());
            assertTrue(fast.size() > 1);
            for (int i = 0; i < fast.size(); i++)
                org.junit.jupiter.api.Assertions.assertArrayEquals(
                        java.nio.file.Files.readAllBytes(pass.get(i)),
                        java.nio.file.Files.readAllBytes(fast.get(i)),
                        rows + " " + fast.get(i).getFileName());
        }
    }

    /**
     * A NaN in the store: its page's statistics follow Parquet's own rules, value by value, as for a
     * store without recorded bounds (same bytes); the other pages' come from the bounds; the NaN reads back.
     */
    @Test
    void aPageHoldingANaNGetsParquetsOwnStatistics() throws Exception {
        int context = 4, d = 8;
        Path store = tmp.resolve("nan-store");
        StoreManifest spec = StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic", "-", "-", 0, d, 0),
                List.of(new StoreManifest.HookInfo("h", d)),
                StoreDType.F32,
                context,
                new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                new StoreManifest.CreationInfo(1, 2, 0, 0, "test"));
        float[][] values = new float[6][context * d];
        try (StoreWriter w = StoreWriter.open(store, spec)) {
            for (int s = 0; s < values.length; s++) {
                for (int i = 0; i < context * d; i++) values[s][i] = s * 100 + i - 50;
                if (s == 3) values[s][9] = Float.NaN;
                w.append(Map.of("h", Nd4j.createFromArray(values[s]).reshape(context, d)), new int[][] {new int[context]
                });
            }
            w.finish();
        }
        Path old = dev.loupe.store.Fixtures.withoutRowBounds(store, tmp.resolve("nan-old"));
        // a page per sequence (128 B), a row group of 2 sequences
        ExportPlan.Buffers b = new ExportPlan.Buffers(256, 256, 128);
        List<Path> fast = ExportFixtures.export(
                        store, tmp.resolve("a"), ExportFormat.PARQUET, ExportOptions.defaults(), b)
                .files();
        List<Path> pass = ExportFixtures.export(
                        old, tmp.resolve("b"), ExportFormat.PARQUET, ExportOptions.defaults(), b)
                .files();
        assertEquals(1, fast.size());
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                java.nio.file.Files.readAllBytes(pass.get(0)), java.nio.file.Files.readAllBytes(fast.get(0)));
        List<BlockMetaData> groups = footer(fast.get(0)).getBlocks();
        assertEquals(3, groups.size());
        Statistics<?> first = groups.get(0).getColumns().get(0).getStatistics();
        assertEquals(-50f, (Float) first.genericGetMin());
        assertEquals(100 + context * d - 51f, (Float) first.genericGetMax());
        int s = 0;
        for (Group g : read(fast.get(0))) {
            Group seq = g.getGroup("h", 0);
            for (int t = 0; t < context; t++)
                for (int k = 0; k < d; k++) {
                    float got = seq.getGroup("list", t)
                            .getGroup("element", 0)
                            .getGroup("list", k)
                            .getFloat("element", 0);
                    assertEquals(values[s][t * d + k], got, "sequence " + s + " position " + t + " dim " + k);
                }
            s++;
        }
        assertEquals(values.length, s);
    }

    @Test
    void aRowPerTokenReadsBackAsTheNpyExport() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path npy = tmp.resolve("npy"), out = tmp.resolve("parquet");
        ExportFixtures.export(store, npy, ExportFormat.NPY, ExportOptions.defaults());
        ExportResult r = ExportFixtures.export(
                store, out, ExportFormat.PARQUET, ExportOptions.defaults().withRows(ExportOptions.Rows.TOKENS));
        assertEquals(1, r.files().size());
        Reference ref = new Reference(npy);
        ParquetMetadata footer = footer(r.files().get(0));
        assertEquals(TOKEN_ROWS_SCHEMA, footer.getFileMetaData().getSchema().toString());
        assertMetadata(footer, TOKEN_ROWS_FEATURES, false);
        int row = 0;
        for (Group g : read(r.files().get(0))) {
            for (String h : List.of(RESID, Z)) {
                Group v = g.getGroup(h, 0);
                assertEquals(32, v.getFieldRepetitionCount("list"));
                for (int k = 0; k < 32; k++)
                    assertEquals(ref.value(h, row, k), v.getGroup("list", k).getFloat("element", 0), h + " row " + row);
            }
            assertEquals(ref.tokens[row], g.getInteger("token_ids", 0));
            assertEquals(ref.sequence[row], g.getLong("sequence", 0));
            assertEquals(ref.position[row], g.getInteger("position", 0));
            row++;
        }
        assertEquals(SEQUENCES * CONTEXT, row);
    }

    /**
     * Every activation of files with a row per sequence equals the npy export's, and each row group's
     * hook statistics are the min and max of its values.
     */
    static void assertValues(List<Path> files, Path npy) throws Exception {
        Reference ref = new Reference(npy);
        int sequence = 0;
        for (Path f : files) {
            List<Group> rows = read(f);
            ParquetMetadata footer = footer(f);
            int first = sequence;
            for (BlockMetaData b : footer.getBlocks()) {
                for (int h = 0; h < 2; h++) {
                    String hook = List.of(RESID, Z).get(h);
                    float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
                    for (long s = first; s < first + b.getRowCount(); s++)
                        for (int t = 0; t < CONTEXT; t++)
                            for (int k = 0; k < 32; k++) {
                                float v = ref.value(hook, (int) s * CONTEXT + t, k);
                                min = Math.min(min, v);
                                max = Math.max(max, v);
                            }
                    Statistics<?> st = b.getColumns().get(h).getStatistics();
                    assertEquals(min, (Float) st.genericGetMin(), f + " " + hook + " min");
                    assertEquals(max, (Float) st.genericGetMax(), f + " " + hook + " max");
                }
                first += (int) b.getRowCount();
            }
            for (Group g : rows) {
                for (String h : List.of(RESID, Z)) {
                    Group seq = g.getGroup(h, 0);
                    for (int t = 0; t < CONTEXT; t++) {
                        Group row = seq.getGroup("list", t).getGroup("element", 0);
                        for (int k = 0; k < 32; k++)
                            assertEquals(
                                    ref.value(h, sequence * CONTEXT + t, k),
                                    row.getGroup("list", k).getFloat("element", 0),
                                    h + " sequence " + sequence + " position " + t + " dim " + k);
                    }
                }
                sequence++;
            }
        }
        assertEquals(SEQUENCES, sequence);
    }

    /** The .npy export, the reference. */
    static final class Reference {
        final Map<String, INDArray> hooks;
        final int[] tokens, position;
        final long[] sequence;

        Reference(Path npy) {
            hooks = Map.of(RESID, ExportFixtures.npy(npy, RESID), Z, ExportFixtures.npy(npy, Z));
            tokens = ExportFixtures.npyInts(npy, "tokens");
            position = ExportFixtures.npyInts(npy, "position");
            sequence = ExportFixtures.npyLongs(npy, "sequence");
        }

        float value(String hook, int row, int k) {
            return hooks.get(hook).getFloat(row, k);
        }
    }

    /** huggingface features as datasets writes them; ARROW:schema decodes to the fixed-size-list schema. */
    static void assertMetadata(ParquetMetadata footer, String features, boolean bySequence) throws Exception {
        Map<String, String> kv = footer.getFileMetaData().getKeyValueMetaData();
        assertEquals(java.util.Set.of("huggingface", "ARROW:schema"), kv.keySet());
        assertEquals(features, kv.get("huggingface"));
        byte[] ipc = Base64.getDecoder().decode(kv.get("ARROW:schema"));
        Schema arrow = MessageSerializer.deserializeSchema(
                new ReadChannel(Channels.newChannel(new ByteArrayInputStream(ipc))));
        assertEquals(Map.of("huggingface", features), arrow.getCustomMetadata());
        assertEquals(
                List.of(RESID, Z, "token_ids", "sequence", "position"),
                arrow.getFields().stream().map(Field::getName).toList());
        Field h = arrow.findField(RESID);
        if (bySequence) {
            assertEquals(new ArrowType.FixedSizeList(CONTEXT), h.getType());
            h = h.getChildren().get(0);
            assertEquals("item", h.getName());
        }
        assertEquals(new ArrowType.FixedSizeList(32), h.getType());
        assertEquals("item", h.getChildren().get(0).getName());
        assertEquals(
                bySequence ? new ArrowType.FixedSizeList(CONTEXT) : new ArrowType.Int(32, true),
                arrow.findField("token_ids").getType());
        assertEquals(new ArrowType.Int(64, true), arrow.findField("sequence").getType());
        assertTrue(arrow.getFields().stream().allMatch(Field::isNullable));
    }

    /** Every column chunk has statistics: no nulls; the sequence column's min/max are the row group's first and last. */
    static void assertStatistics(ParquetMetadata footer) {
        for (BlockMetaData b : footer.getBlocks()) {
            for (ColumnChunkMetaData c : b.getColumns()) {
                Statistics<?> s = c.getStatistics();
                assertTrue(s != null && !s.isEmpty() && s.hasNonNullValue(), c.getPath() + " has statistics");
                assertEquals(0, s.getNumNulls(), c.getPath().toDotString());
                assertEquals(CompressionCodecName.UNCOMPRESSED, c.getCodec());
            }
        }
        ColumnChunkMetaData first = footer.getBlocks().get(0).getColumns().get(3); // sequence
        assertEquals("sequence", first.getPath().toDotString());
        assertTrue((Long) first.getStatistics().genericGetMin()
                <= (Long) first.getStatistics().genericGetMax());
    }

    static ParquetMetadata footer(Path f) throws Exception {
        try (ParquetFileReader r = open(f)) {
            return r.getFooter();
        }
    }

    /** Every row, through parquet-column's example Group records. */
    static List<Group> read(Path f) throws Exception {
        List<Group> rows = new java.util.ArrayList<>();
        try (ParquetFileReader r = open(f)) {
            MessageType schema = r.getFooter().getFileMetaData().getSchema();
            PageReadStore pages;
            while ((pages = r.readNextRowGroup()) != null) {
                RecordReader<Group> rr = new ColumnIOFactory()
                        .getColumnIO(schema)
                        .getRecordReader(pages, new GroupRecordConverter(schema));
                for (long i = 0; i < pages.getRowCount(); i++) rows.add(rr.read());
            }
        }
        return rows;
    }

    /** A reader without Hadoop: plain configuration, and the exports are uncompressed. */
    static ParquetFileReader open(Path f) throws Exception {
        CompressionCodecFactory none = new CompressionCodecFactory() {
            @Override
            public BytesInputCompressor getCompressor(CompressionCodecName codec) {
                throw new UnsupportedOperationException();
            }

            @Override
            public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
                assertEquals(CompressionCodecName.UNCOMPRESSED, codec);
                return new BytesInputDecompressor() {
                    @Override
                    public BytesInput decompress(BytesInput bytes, int size) {
                        return bytes;
                    }

                    @Override
                    public void decompress(java.nio.ByteBuffer in, int inSize, java.nio.ByteBuffer out, int outSize) {
                        throw new UnsupportedOperationException();
                    }

                    @Override
                    public void release() {}
                };
            }

            @Override
            public void release() {}
        };
        // the constructor: javac would need Hadoop's Configuration to choose among open(...)'s overloads
        return new ParquetFileReader(
                new LocalInputFile(f),
                org.apache.parquet.ParquetReadOptions.builder(new PlainParquetConfiguration())
                        .withCodecFactory(none)
                        .build());
    }
}
