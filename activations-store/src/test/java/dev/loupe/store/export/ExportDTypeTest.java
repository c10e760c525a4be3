package dev.loupe.store.export;

import static dev.loupe.store.export.ExportFixtures.CONTEXT;
import static dev.loupe.store.export.ExportFixtures.RESID;
import static dev.loupe.store.export.ExportFixtures.Z;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.store.NativeBytes;
import dev.loupe.store.StoreDType;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.parquet.example.data.Group;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** bf16 and f16 stores: float32 by default; an f16 store keeps float16 when asked; bf16 never can (and says so). */
class ExportDTypeTest {
    @TempDir
    Path tmp;

    @Test
    void bf16ExportsAsTheExactFloat32ValuesEvenWhenAskedToKeepItsDType() throws Exception {
        Path store = ExportFixtures.store(StoreDType.BF16);
        Path npy = tmp.resolve("npy");
        ExportFixtures.export(store, npy, ExportFormat.NPY, ExportOptions.defaults());
        ExportResult r = ExportFixtures.export(
                store,
                tmp.resolve("kept"),
                ExportFormat.SAELENS,
                ExportOptions.defaults().withKeepDType(true));
        assertEquals("float32", r.dtype());
        assertEquals(1, r.notes().size());
        assertTrue(r.notes().get(0).contains("bf16"), r.notes().get(0));
        INDArray want = ExportFixtures.npy(npy, RESID);
        assertEquals(DataType.FLOAT, want.dataType());
        // every value is a bf16: its low 16 bits are zero
        for (float v : want.data().asFloat()) assertEquals(0, Float.floatToRawIntBits(v) & 0xFFFF);
        assertSaeLens(r.out().resolve("data-00000-of-00001.arrow"), npy, "float32");
    }

    @Test
    void f16IsFloat32ByDefaultAndStaysFloat16WhenKept() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F16);
        Path npy32 = tmp.resolve("npy32"), npy16 = tmp.resolve("npy16");
        ExportFixtures.export(store, npy32, ExportFormat.NPY, ExportOptions.defaults());
        ExportFixtures.export(
                store, npy16, ExportFormat.NPY, ExportOptions.defaults().withKeepDType(true));
        assertEquals(DataType.FLOAT, ExportFixtures.npy(npy32, RESID).dataType());
        assertEquals(DataType.HALF, ExportFixtures.npy(npy16, RESID).dataType());

        ExportResult f32 =
                ExportFixtures.export(store, tmp.resolve("s32"), ExportFormat.SAELENS, ExportOptions.defaults());
        assertEquals("float32", f32.dtype());
        assertTrue(f32.notes().isEmpty());
        assertSaeLens(f32.out().resolve("data-00000-of-00001.arrow"), npy32, "float32");

        ExportOptions keep = ExportOptions.defaults().withKeepDType(true);
        ExportResult f16 = ExportFixtures.export(store, tmp.resolve("s16"), ExportFormat.SAELENS, keep);
        assertEquals("float16", f16.dtype());
        assertTrue(Files.readString(f16.out().resolve("dataset_info.json")).contains("\"dtype\": \"float16\""));
        assertSaeLens(f16.out().resolve("data-00000-of-00001.arrow"), npy16, "float16");

        ExportResult p16 = ExportFixtures.export(store, tmp.resolve("p16"), ExportFormat.PARQUET, keep);
        var footer = ParquetExportTest.footer(p16.files().get(0));
        assertTrue(
                footer.getFileMetaData()
                        .getSchema()
                        .toString()
                        .contains("optional fixed_len_byte_array(2) element (FLOAT16);"),
                footer.getFileMetaData().getSchema().toString());
        assertTrue(footer.getFileMetaData()
                .getKeyValueMetaData()
                .get("huggingface")
                .contains("\"float16\""));
        ByteBuffer want = NativeBytes.of(ExportFixtures.npy(npy16, Z));
        int sequence = 0;
        for (Group g : ParquetExportTest.read(p16.files().get(0))) {
            Group seq = g.getGroup(Z, 0);
            for (int t = 0; t < CONTEXT; t++) {
                Group row = seq.getGroup("list", t).getGroup("element", 0);
                for (int k = 0; k < 32; k++) {
                    byte[] got = row.getGroup("list", k).getBinary("element", 0).getBytes();
                    int at = 2 * ((sequence * CONTEXT + t) * 32 + k);
                    assertEquals(want.getShort(at), (short) ((got[0] & 0xFF) | (got[1] << 8)), "value " + at / 2);
                }
            }
            sequence++;
        }
        assertEquals(ExportFixtures.SEQUENCES, sequence);
    }

    @Test
    void bf16AndF16StoresExportToParquetAsTheirExactFloat32Values() throws Exception {
        for (StoreDType dtype : List.of(StoreDType.BF16, StoreDType.F16)) {
            Path store = ExportFixtures.store(dtype);
            Path npy = tmp.resolve("npy-" + dtype), out = tmp.resolve("parquet-" + dtype);
            ExportFixtures.export(store, npy, ExportFormat.NPY, ExportOptions.defaults());
            ExportResult r = ExportFixtures.export(store, out, ExportFormat.PARQUET, ExportOptions.defaults());
            assertEquals("float32", r.dtype());
            ParquetExportTest.assertValues(r.files(), npy);
        }
    }

    /** One data file of a saelens export: its schema in {@code dtype} and every value equal to the npy export's. */
    static void assertSaeLens(Path file, Path npy, String dtype) throws Exception {
        try (RootAllocator a = new RootAllocator();
                InputStream in = Files.newInputStream(file);
                ArrowStreamReader reader = new ArrowStreamReader(in, a)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            SaeLensExportTest.assertSchema(root.getSchema(), dtype);
            int first = 0;
            while (reader.loadNextBatch()) {
                int n = root.getRowCount();
                for (String h : List.of(RESID, Z))
                    SaeLensExportTest.assertActivations(
                            (ListVector) root.getVector(h),
                            ExportFixtures.npy(npy, h),
                            first,
                            n,
                            32,
                            dtype.equals("float16"));
                first += n;
            }
            assertEquals(ExportFixtures.SEQUENCES, first);
        }
    }
}
