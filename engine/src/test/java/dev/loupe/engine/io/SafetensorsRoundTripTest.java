package dev.loupe.engine.io;

import static dev.loupe.engine.io.IoTestSupport.assertLoupe;
import static dev.loupe.engine.io.IoTestSupport.assertSameValues;
import static dev.loupe.engine.io.IoTestSupport.dataSection;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    /** Values chosen to be exact in every float type, plus the awkward ones. */
    private static final double[] FLOATS = {
        0,
        -0.0,
        1,
        -2.5,
        0.125,
        65504,
        -65504,
        3.0e-5,
        Double.NaN,
        Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY,
        7
    };

    private static INDArray sample(DataType type) {
        return switch (type) {
            case LONG -> Nd4j.createFromArray(new long[] {
                        0, -1, Long.MAX_VALUE, Long.MIN_VALUE, 42, 1L << 53, (1L << 53) + 1, -7, 3, 4, 5, 6
                    })
                    .reshape(3, 4);
            case INT -> Nd4j.createFromArray(
                            new int[] {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 42, 7, 8, 9, 10, 11, 12, 13})
                    .reshape(3, 4);
            case SHORT -> Nd4j.createFromArray(
                            new short[] {0, -1, Short.MAX_VALUE, Short.MIN_VALUE, 4, 5, 6, 7, 8, 9, 10, 11})
                    .reshape(3, 4);
            case BYTE -> Nd4j.createFromArray(new byte[] {0, -1, 127, -128, 4, 5, 6, 7, 8, 9, 10, 11})
                    .reshape(3, 4);
            case UBYTE -> Nd4j.createFromArray(new int[] {0, 1, 255, 128, 4, 5, 6, 7, 8, 9, 10, 11})
                    .castTo(DataType.UBYTE)
                    .reshape(3, 4);
            case BOOL -> Nd4j.createFromArray(
                            new boolean[] {true, false, true, true, false, false, true, false, true, false, true, true})
                    .reshape(3, 4);
            case DOUBLE -> Nd4j.createFromArray(FLOATS).reshape(3, 4);
            default -> Nd4j.createFromArray(FLOATS).castTo(type).reshape(3, 4);
        };
    }

    @Test
    void integerAndF32TensorsReadIntoJavaArraysAsNd4jReadsThem() throws IOException {
        INDArray ints = sample(DataType.INT), longs = sample(DataType.LONG), floats = sample(DataType.FLOAT);
        Path file = dir.resolve("ints.safetensors");
        Map<String, INDArray> tensors = linked("i", ints, "l", longs);
        tensors.put("f", floats);
        SafetensorsWriter.write(file, tensors, null);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertArrayEquals(ints.reshape(-1).toIntVector(), r.readInts("i"));
            assertArrayEquals(longs.reshape(-1).toLongVector(), r.readLongs("l"));
            assertArrayEquals(floats.reshape(-1).toFloatVector(), r.readFloats("f"));
            assertLoupe(() -> r.readFloats("i"), "'i'", "I32", "expected F32");
            assertLoupe(() -> r.readInts("l"), "ints.safetensors", "'l'", "I64", "expected I32");
            assertLoupe(() -> r.readLongs("i"), "'i'", "I32", "expected I64");
            assertLoupe(() -> r.readInts("x"), "no tensor named");
        }
    }

    @Test
    void everyDtypeRoundTripsExactly() throws IOException {
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        for (SafetensorsDType t : SafetensorsDType.values()) {
            tensors.put("t_" + t.name(), sample(t.nd4j()));
        }
        Path file = dir.resolve("all.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(List.copyOf(tensors.keySet()), r.names());
            for (SafetensorsDType t : SafetensorsDType.values()) {
                String name = "t_" + t.name();
                assertEquals(t, r.info(name).dtype());
                assertArrayEquals(new long[] {3, 4}, r.info(name).shape());
                assertSameValues(tensors.get(name), r.read(name));
            }
        }
    }

    @Test
    void dataSectionIsLittleEndianCOrder() throws IOException {
        INDArray f = Nd4j.createFromArray(new float[][] {{1.5f, -2f, Float.NaN}, {0f, 1e-30f, 3f}});
        INDArray l = Nd4j.createFromArray(new long[] {1L, -2L, Long.MIN_VALUE});
        Path file = dir.resolve("le.safetensors");
        SafetensorsWriter.write(file, linked("f", f, "l", l), null);
        ByteBuffer expected = ByteBuffer.allocate(6 * 4 + 3 * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : new float[] {1.5f, -2f, Float.NaN, 0f, 1e-30f, 3f}) {
            expected.putFloat(v);
        }
        expected.putLong(1L).putLong(-2L).putLong(Long.MIN_VALUE);
        assertArrayEquals(expected.array(), dataSection(file));
    }

    /**
     * Bytes written by someone else (random, including NaN payloads and subnormals in F16/BF16)
     * come back bit for bit when read and written again.
     */
    @Test
    void randomStoredBytesSurviveReadAndRewrite() throws IOException {
        Random rnd = new Random(1234);
        StringBuilder json = new StringBuilder("{");
        ByteBuffer data = ByteBuffer.allocate(4096);
        long offset = 0;
        for (SafetensorsDType t : SafetensorsDType.values()) {
            long n = 5 + rnd.nextInt(20);
            byte[] bytes = new byte[(int) (n * t.size())];
            rnd.nextBytes(bytes);
            if (t == SafetensorsDType.BOOL) {
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] &= 1;
                }
            }
            data.put(bytes);
            json.append(json.length() > 1 ? "," : "")
                    .append("\"")
                    .append(t)
                    .append("\":{\"dtype\":\"")
                    .append(t)
                    .append("\",\"shape\":[")
                    .append(n)
                    .append("],\"data_offsets\":[")
                    .append(offset)
                    .append(",")
                    .append(offset + bytes.length)
                    .append("]}");
            offset += bytes.length;
        }
        json.append("}");
        byte[] original = java.util.Arrays.copyOf(data.array(), data.position());
        Path in = IoTestSupport.write(dir, "in.safetensors", IoTestSupport.safetensors(json.toString(), original));
        Path out = dir.resolve("out.safetensors");
        Map<String, INDArray> read = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(in)) {
            for (String name : r.names()) {
                read.put(name, r.read(name));
            }
        }
        SafetensorsWriter.write(out, read, Map.of());
        assertArrayEquals(original, dataSection(out));
        try (SafetensorsReader a = SafetensorsReader.open(in);
                SafetensorsReader b = SafetensorsReader.open(out)) {
            for (String name : a.names()) {
                assertEquals(a.info(name), b.info(name));
            }
        }
    }

    @Test
    void viewsAndFortranOrderAreWrittenInLogicalCOrder() throws IOException {
        INDArray base = Nd4j.linspace(0, 59, 60, DataType.DOUBLE).reshape(3, 4, 5);
        Map<String, INDArray> views = new LinkedHashMap<>();
        views.put("row", base.get(NDArrayIndex.point(1), NDArrayIndex.point(2), NDArrayIndex.all()));
        views.put("column", base.get(NDArrayIndex.point(2), NDArrayIndex.all(), NDArrayIndex.point(3)));
        views.put("block", base.get(NDArrayIndex.interval(1, 3), NDArrayIndex.interval(1, 3), NDArrayIndex.all()));
        views.put("strided", base.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2, 4), NDArrayIndex.all()));
        views.put("transposed", base.get(NDArrayIndex.point(0)).transpose());
        views.put("permuted", base.permute(2, 0, 1));
        views.put("fortran", base.dup('f'));
        views.put("fortranFloat", base.castTo(DataType.FLOAT).dup('f'));
        views.put("contiguousSlice", base.get(NDArrayIndex.point(2)));
        Path file = dir.resolve("views.safetensors");
        SafetensorsWriter.write(file, views, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (Map.Entry<String, INDArray> e : views.entrySet()) {
                assertSameValues(e.getValue().dup('c'), r.read(e.getKey()));
            }
        }
    }

    @Test
    void scalarsAndZeroSizeTensors() throws IOException {
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        tensors.put("scalarF", Nd4j.scalar(DataType.FLOAT, -3.25f));
        tensors.put("scalarL", Nd4j.scalar(DataType.LONG, Long.MAX_VALUE));
        tensors.put("scalarH", Nd4j.scalar(DataType.FLOAT, 0.5f).castTo(DataType.HALF));
        for (SafetensorsDType t : SafetensorsDType.values()) {
            tensors.put("empty0_" + t, Nd4j.create(t.nd4j(), new long[] {0}, 'c'));
            tensors.put("empty3x0_" + t, Nd4j.create(t.nd4j(), new long[] {3, 0}, 'c'));
        }
        tensors.put("empty0x2x0", Nd4j.create(DataType.FLOAT, new long[] {0, 2, 0}, 'c'));
        tensors.put("after", Nd4j.createFromArray(1f, 2f));
        Path file = dir.resolve("edge.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(0, r.info("scalarF").rank());
            for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
                INDArray read = r.read(e.getKey());
                assertSameValues(e.getValue(), read);
                assertEquals(e.getValue().rank(), read.rank(), e.getKey());
            }
            assertEquals(0, r.readFloat("scalarH").rank());
            assertEquals(0.5f, r.readFloat("scalarH").getFloat(0));
        }
    }

    @Test
    void metadataRoundTripsAndIsOmittedWhenEmpty() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "ünïcødé ✓ \"quoted\" \\ back\nslash");
        meta.put("", "empty key");
        Path file = dir.resolve("meta.safetensors");
        SafetensorsWriter.write(file, Map.of("x", Nd4j.ones(DataType.FLOAT, 2)), meta);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(meta, r.metadata());
        }
        Path bare = dir.resolve("bare.safetensors");
        SafetensorsWriter.write(bare, Map.of("x", Nd4j.ones(DataType.FLOAT, 2)), Map.of());
        assertFalse(new String(Files.readAllBytes(bare), StandardCharsets.UTF_8).contains("__metadata__"));
        try (SafetensorsReader r = SafetensorsReader.open(bare)) {
            assertTrue(r.metadata().isEmpty());
        }
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOf8() throws IOException {
        for (int nameLength = 1; nameLength <= 12; nameLength++) {
            Path file = dir.resolve("pad" + nameLength + ".safetensors");
            SafetensorsWriter.write(file, Map.of("n".repeat(nameLength), Nd4j.ones(DataType.FLOAT, 3)), Map.of());
            byte[] all = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, n % 8, "header length " + n);
            String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.strip().endsWith("}"), header);
            assertTrue(header.substring(header.lastIndexOf('}') + 1).isBlank());
            assertEquals(8 + n + 12, all.length);
        }
    }

    @Test
    void namesAreInFileOrderAndUnicodeNamesWork() throws IOException {
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        for (String name : new String[] {"zeta", "alpha", "blocks.0.attn.W_Q", "naïve/ключ/名前", "", "m"}) {
            tensors.put(name, Nd4j.ones(DataType.FLOAT, 1));
        }
        Path file = dir.resolve("order.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(new ArrayList<>(tensors.keySet()), r.names());
            assertTrue(r.contains("naïve/ключ/名前"));
            assertFalse(r.contains("nope"));
        }
    }

    @Test
    void readFloatConvertsEveryStoredType() throws IOException {
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        INDArray values = Nd4j.createFromArray(1f, -2f, 0.5f, 3f);
        for (SafetensorsDType t : SafetensorsDType.values()) {
            if (t != SafetensorsDType.BOOL && t != SafetensorsDType.U8) {
                tensors.put(t.name(), values.castTo(t.nd4j()));
            }
        }
        Path file = dir.resolve("float.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (String name : tensors.keySet()) {
                INDArray f = r.readFloat(name);
                assertEquals(DataType.FLOAT, f.dataType());
                String type = name;
                INDArray expected = type.startsWith("I") ? Nd4j.createFromArray(1f, -2f, 0f, 3f) : values;
                assertSameValues(expected, f);
            }
        }
    }

    @Test
    void unknownNameSuggestsClosestNamesAndClosedReaderRefuses() throws IOException {
        Path file = dir.resolve("names.safetensors");
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        for (String n : new String[] {"blocks.0.attn.W_Q", "blocks.0.attn.W_K", "blocks.1.mlp.W_in", "embed"}) {
            tensors.put(n, Nd4j.ones(DataType.FLOAT, 1));
        }
        SafetensorsWriter.write(file, tensors, Map.of());
        SafetensorsReader r = SafetensorsReader.open(file);
        assertLoupe(
                () -> r.read("blocks.0.attn.W_V"),
                "names.safetensors",
                "'blocks.0.attn.W_V'",
                "closest names: 'blocks.0.attn.W_K', 'blocks.0.attn.W_Q'");
        INDArray kept = r.read("embed");
        r.close();
        r.close();
        assertLoupe(() -> r.read("embed"), "names.safetensors", "closed");
        assertEquals(1f, kept.getFloat(0), "arrays stay valid after close");
    }

    @Test
    void unsupportedArrayTypeIsRejectedBeforeAnythingIsWritten() {
        Path file = dir.resolve("bad.safetensors");
        INDArray u16 = Nd4j.createFromArray(1, 2).castTo(DataType.UINT16);
        assertLoupe(
                () -> SafetensorsWriter.write(file, linked("ok", Nd4j.ones(2), "u", u16), Map.of()),
                "bad.safetensors",
                "'u'",
                "UINT16",
                "FLOAT");
        assertLoupe(
                () -> SafetensorsWriter.write(file, linked("__metadata__", Nd4j.ones(2)), Map.of()),
                "bad.safetensors",
                "__metadata__");
        assertFalse(Files.exists(file));
    }

    /** Tensors spanning several copy windows are assembled in order. */
    @Test
    void multiWindowCopiesAreContiguous() throws IOException {
        INDArray big = Nd4j.linspace(0, 999, 1000, DataType.FLOAT).reshape(10, 100);
        Path file = dir.resolve("window.safetensors");
        SafetensorsWriter.write(file, Map.of("big", big), Map.of());
        byte[] data = dataSection(file);
        INDArray read = ArrayBytes.read(
                DataType.FLOAT, new long[] {10, 100}, 'c', (dst, off) -> dst.put(data, (int) off, dst.remaining()), 24);
        assertSameValues(big, read);
    }

    /** Offsets beyond 2 GiB (a sparse file, so no disk is used) are mapped correctly. */
    @Test
    void tensorsBeyondTwoGibibytesAreReadable() throws IOException {
        long padding = (1L << 31) + 1000;
        String json = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + padding + "],\"data_offsets\":[0," + padding + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + padding + "," + (padding + 8)
                + "]}}";
        byte[] head = IoTestSupport.safetensors(json, new byte[0]);
        Path file = dir.resolve("sparse.safetensors");
        Files.write(file, head);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(head.length + padding + 8);
            raf.seek(head.length + padding);
            raf.write(IoTestSupport.leFloats(6.5f, -1f));
        }
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertSameValues(Nd4j.createFromArray(6.5f, -1f), r.read("tail"));
        }
    }

    @Test
    void truncatingAnOpenFileGivesALoupeExceptionNotACrash() throws IOException {
        Path file = dir.resolve("shrink.safetensors");
        SafetensorsWriter.write(file, Map.of("x", Nd4j.ones(DataType.FLOAT, 4096)), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(100);
            }
            assertLoupe(() -> r.read("x"), "shrink.safetensors", "'x'");
        }
    }

    private static Map<String, INDArray> linked(Object... nameThenArray) {
        Map<String, INDArray> m = new LinkedHashMap<>();
        for (int i = 0; i < nameThenArray.length; i += 2) {
            m.put((String) nameThenArray[i], (INDArray) nameThenArray[i + 1]);
        }
        return m;
    }
}
