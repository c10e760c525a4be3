package dev.loupe.store.export;

import static dev.loupe.store.export.ExportFixtures.CONTEXT;
import static dev.loupe.store.export.ExportFixtures.RESID;
import static dev.loupe.store.export.ExportFixtures.SEQUENCES;
import static dev.loupe.store.export.ExportFixtures.Z;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.store.StoreDType;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The saelens export read back with Apache Arrow's Java reader: the layout, features and schema
 * {@code datasets.save_to_disk} writes for SAELens's {@code CacheActivationsRunner} features, and
 * every value equal to the .npy export's.
 */
class SaeLensExportTest {
    @TempDir
    Path tmp;

    /** What datasets 3.x writes for SAELens's features (context 16, d_in 32): dataset_info.json, json.dump(indent=2). */
    static final String DATASET_INFO =
            """
            {
              "citation": "",
              "description": "",
              "features": {
                "blocks.0.hook_resid_post": {
                  "shape": [
                    16,
                    32
                  ],
                  "dtype": "float32",
                  "_type": "Array2D"
                },
                "blocks.1.attn.hook_z": {
                  "shape": [
                    16,
                    32
                  ],
                  "dtype": "float32",
                  "_type": "Array2D"
                },
                "token_ids": {
                  "feature": {
                    "dtype": "int32",
                    "_type": "Value"
                  },
                  "length": 16,
                  "_type": "Sequence"
                }
              },
              "homepage": "",
              "license": ""
            }"""
                    .stripTrailing();

    /** ArrowWriter._build_metadata: json.dumps({"info": {"features": features.to_dict()}}). */
    static final String HUGGINGFACE_METADATA = "{\"info\": {\"features\": {"
            + "\"blocks.0.hook_resid_post\": {\"shape\": [16, 32], \"dtype\": \"float32\", \"_type\": \"Array2D\"}, "
            + "\"blocks.1.attn.hook_z\": {\"shape\": [16, 32], \"dtype\": \"float32\", \"_type\": \"Array2D\"}, "
            + "\"token_ids\": {\"feature\": {\"dtype\": \"int32\", \"_type\": \"Value\"}, \"length\": 16, \"_type\": \"Sequence\"}}}}";

    @Test
    void writesTheSaveToDiskLayoutWithSaeLensFeaturesAndTheNpyValues() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path npy = tmp.resolve("npy"), out = tmp.resolve("saelens");
        ExportFixtures.export(store, npy, ExportFormat.NPY, ExportOptions.defaults());
        // 40 sequences of at most 4506 bytes (4096 of activations) in files of at most 50 kB: 4 files of 10 sequences
        // record batches of 2 sequences (4096 activation bytes each): 5 per file
        ExportResult r = ExportFixtures.export(
                store,
                out,
                ExportFormat.SAELENS,
                ExportOptions.defaults().withShardBytes(50_000),
                new ExportPlan.Buffers(10_000, 0, 0));

        List<String> data = List.of(
                "data-00000-of-00004.arrow",
                "data-00001-of-00004.arrow",
                "data-00002-of-00004.arrow",
                "data-00003-of-00004.arrow");
        List<String> names = new ArrayList<>(data);
        names.add("dataset_info.json");
        names.add("state.json");
        assertEquals(
                names, r.files().stream().map(p -> p.getFileName().toString()).toList());
        try (var s = Files.list(out)) {
            assertEquals(names.size(), s.count(), "nothing else in the folder");
        }
        for (String f : data) assertTrue(Files.size(out.resolve(f)) <= 50_000, f + ": " + Files.size(out.resolve(f)));
        assertEquals(DATASET_INFO, Files.readString(out.resolve("dataset_info.json")));
        String state = Files.readString(out.resolve("state.json"));
        String fingerprint;
        try (var s = dev.loupe.store.read.ActivationStore.open(store)) {
            fingerprint = ExportFingerprint.of(
                    new ExportPlan(s, List.of(RESID, Z), "float32", ExportOptions.Rows.SEQUENCES, 50_000),
                    ExportFormat.SAELENS);
        }
        assertEquals(
                """
                {
                  "_data_files": [
                    {
                      "filename": "data-00000-of-00004.arrow"
                    },
                    {
                      "filename": "data-00001-of-00004.arrow"
                    },
                    {
                      "filename": "data-00002-of-00004.arrow"
                    },
                    {
                      "filename": "data-00003-of-00004.arrow"
                    }
                  ],
                  "_fingerprint": "%s",
                  "_format_columns": null,
                  "_format_kwargs": {},
                  "_format_type": null,
                  "_output_all_columns": false,
                  "_split": null
                }"""
                        .formatted(fingerprint)
                        .stripTrailing(),
                state);
        assertTrue(fingerprint.matches("[0-9a-f]{16}"), fingerprint);

        INDArray resid = ExportFixtures.npy(npy, RESID), z = ExportFixtures.npy(npy, Z);
        int[] tokens = ExportFixtures.npyInts(npy, "tokens");
        int sequence = 0;
        for (String f : data) {
            try (RootAllocator a = new RootAllocator();
                    InputStream in = Files.newInputStream(out.resolve(f));
                    ArrowStreamReader reader = new ArrowStreamReader(in, a)) {
                VectorSchemaRoot root = reader.getVectorSchemaRoot();
                assertSchema(root.getSchema(), "float32");
                int rows = 0, batches = 0;
                while (reader.loadNextBatch()) {
                    batches++;
                    int n = root.getRowCount();
                    assertActivations((ListVector) root.getVector(RESID), resid, sequence, n, 32, false);
                    assertActivations((ListVector) root.getVector(Z), z, sequence, n, 32, false);
                    FixedSizeListVector ids = (FixedSizeListVector) root.getVector("token_ids");
                    IntVector idValues = (IntVector) ids.getDataVector();
                    for (int i = 0; i < n * CONTEXT; i++)
                        assertEquals(tokens[sequence * CONTEXT + i], idValues.get(i), "token " + i);
                    sequence += n;
                    rows += n;
                }
                assertEquals(10, rows, f);
                assertEquals(5, batches, f);
            }
        }
        assertEquals(SEQUENCES, sequence);
    }

    /** The schema datasets writes: Array2D extension columns over list<list<dtype>>, token_ids fixed_size_list<int32>[16]. */
    static void assertSchema(Schema schema, String dtype) {
        assertEquals(Map.of("huggingface", HUGGINGFACE_METADATA.replace("float32", dtype)), schema.getCustomMetadata());
        assertEquals(
                List.of(RESID, Z, "token_ids"),
                schema.getFields().stream().map(Field::getName).toList());
        for (String h : List.of(RESID, Z)) {
            Field f = schema.findField(h);
            assertTrue(f.isNullable());
            assertEquals(ArrowType.List.INSTANCE, f.getType());
            assertEquals(
                    Map.of(
                            "ARROW:extension:name",
                            "datasets.features.features.Array2DExtensionType",
                            "ARROW:extension:metadata",
                            "[[16, 32], \"" + dtype + "\"]"),
                    f.getMetadata());
            Field row = f.getChildren().get(0);
            assertEquals("item", row.getName());
            assertTrue(row.isNullable());
            assertEquals(ArrowType.List.INSTANCE, row.getType());
            Field value = row.getChildren().get(0);
            assertEquals("item", value.getName());
            assertTrue(value.isNullable());
            assertEquals(
                    new ArrowType.FloatingPoint(
                            dtype.equals("float16") ? FloatingPointPrecision.HALF : FloatingPointPrecision.SINGLE),
                    value.getType());
        }
        Field ids = schema.findField("token_ids");
        assertTrue(ids.isNullable());
        assertEquals(new ArrowType.FixedSizeList(CONTEXT), ids.getType());
        assertEquals("item", ids.getChildren().get(0).getName());
        assertEquals(new ArrowType.Int(32, true), ids.getChildren().get(0).getType());
        assertTrue(ids.getChildren().get(0).isNullable());
    }

    /** Rows [first, first + n) of the batch are sequences whose [16, d] values equal the npy rows, bit for bit. */
    static void assertActivations(ListVector seqs, INDArray npy, int first, int n, int d, boolean half) {
        ListVector positions = (ListVector) seqs.getDataVector();
        BaseFixedWidthVector values = (BaseFixedWidthVector) positions.getDataVector();
        for (int i = 0; i <= n; i++)
            assertEquals(i * CONTEXT, seqs.getOffsetBuffer().getInt(i * 4L));
        for (int j = 0; j <= n * CONTEXT; j++)
            assertEquals(j * d, positions.getOffsetBuffer().getInt(j * 4L));
        assertEquals(0, seqs.getNullCount());
        assertEquals(0, positions.getNullCount());
        assertEquals(0, values.getNullCount());
        INDArray want = npy.get(
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(
                                (long) first * CONTEXT, (long) (first + n) * CONTEXT),
                        org.nd4j.linalg.indexing.NDArrayIndex.all())
                .dup('c');
        if (half) {
            short[] got = new short[n * CONTEXT * d];
            for (int k = 0; k < got.length; k++) got[k] = ((Float2Vector) values).get(k);
            short[] expect = new short[got.length];
            java.nio.ByteBuffer b = dev.loupe.store.NativeBytes.of(want);
            for (int k = 0; k < expect.length; k++) expect[k] = b.getShort(2 * k);
            assertArrayEquals(expect, got);
        } else {
            float[] got = new float[n * CONTEXT * d];
            for (int k = 0; k < got.length; k++) got[k] = ((Float4Vector) values).get(k);
            assertEquals(DataType.FLOAT, want.dataType());
            assertArrayEquals(want.data().asFloat(), got);
        }
    }
}
