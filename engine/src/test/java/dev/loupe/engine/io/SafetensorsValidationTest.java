package dev.loupe.engine.io;

import static dev.loupe.engine.io.IoTestSupport.assertLoupe;
import static dev.loupe.engine.io.IoTestSupport.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One hand-built bad file per rule the reader enforces; each error names file and tensor. */
class SafetensorsValidationTest {

    @TempDir
    Path dir;

    /** A valid F32 [2] entry occupying [begin, begin + 8). */
    private static String f32(String name, long begin) {
        return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + begin + "," + (begin + 8)
                + "]}";
    }

    private Path file(String name, String json, int dataBytes) throws IOException {
        return IoTestSupport.write(dir, name, safetensors(json, new byte[dataBytes]));
    }

    /** Opening and reading every tensor of {@code file} fails with all of {@code fragments}. */
    private void rejects(Path file, String... fragments) {
        assertLoupe(
                () -> {
                    try (SafetensorsReader r = SafetensorsReader.open(file)) {
                        for (String n : r.names()) {
                            r.read(n);
                        }
                    }
                },
                fragments);
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        rejects(
                IoTestSupport.write(dir, "tiny.safetensors", new byte[] {1, 2, 3}),
                "tiny.safetensors",
                "3 bytes",
                "8-byte");
        rejects(IoTestSupport.write(dir, "empty.safetensors", new byte[0]), "empty.safetensors", "0 bytes");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        byte[] bytes = ByteBuffer.allocate(20)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(1000)
                .array();
        rejects(
                IoTestSupport.write(dir, "long.safetensors", bytes),
                "long.safetensors",
                "header length 1000",
                "12 bytes");
    }

    @Test
    void absurdHeaderLengths() throws IOException {
        byte[] huge = ByteBuffer.allocate(16)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(200_000_000L)
                .array();
        rejects(
                IoTestSupport.write(dir, "huge.safetensors", huge),
                "huge.safetensors",
                "200000000",
                "100000000-byte limit");
        byte[] negative = ByteBuffer.allocate(16)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(-8)
                .array();
        rejects(IoTestSupport.write(dir, "neg.safetensors", negative), "neg.safetensors", "18446744073709551608");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] json = "{\"a\u00ff\":1}".getBytes(StandardCharsets.ISO_8859_1);
        rejects(
                IoTestSupport.write(dir, "latin.safetensors", safetensors(json, new byte[0])),
                "latin.safetensors",
                "UTF-8",
                "0xff",
                "file offset 11");
    }

    @Test
    void headerNotAJsonObject() throws IOException {
        rejects(file("syntax.safetensors", "{\"a\": ", 0), "syntax.safetensors", "not valid JSON");
        rejects(file("array.safetensors", "[1, 2]", 0), "array.safetensors", "must be a JSON object", "array");
        rejects(file("blank.safetensors", "   ", 0), "blank.safetensors", "must be a JSON object");
        rejects(file("trailing.safetensors", "{} {}", 0), "trailing.safetensors", "not valid JSON");
        rejects(file("deep.safetensors", "[".repeat(5000) + "]".repeat(5000), 0), "deep.safetensors", "not valid JSON");
        rejects(
                file("dup.safetensors", "{" + f32("w", 0) + "," + f32("w", 8) + "}", 16),
                "dup.safetensors",
                "not valid JSON",
                "w");
    }

    @Test
    void entryNotAnObject() throws IOException {
        rejects(file("entry.safetensors", "{\"w\": [1, 2]}", 0), "entry.safetensors", "'w'", "must be an object");
    }

    @Test
    void missingFields() throws IOException {
        rejects(
                file("nodtype.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "nodtype.safetensors",
                "'w'",
                "missing \"dtype\"");
        rejects(
                file("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8),
                "noshape.safetensors",
                "'w'",
                "missing \"shape\"");
        rejects(
                file("nooffsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8),
                "nooffsets.safetensors",
                "'w'",
                "missing \"data_offsets\"");
    }

    @Test
    void wrongTypedFields() throws IOException {
        rejects(
                file("dtypenum.safetensors", "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "dtypenum.safetensors",
                "'w'",
                "\"dtype\" must be a string");
        rejects(
                file("shapestr.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8),
                "shapestr.safetensors",
                "'w'",
                "\"shape\" must be an array");
        rejects(
                file(
                        "offsetsobj.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"a\":0}}}",
                        8),
                "offsetsobj.safetensors",
                "'w'",
                "\"data_offsets\" must be [begin, end]");
    }

    @Test
    void unknownDtypeListsSupportedOnes() throws IOException {
        rejects(
                file("dtype.safetensors", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
                "dtype.safetensors",
                "'w'",
                "unsupported dtype 'F8_E4M3'",
                "F32",
                "BF16",
                "BOOL");
        rejects(
                file("lower.safetensors", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "lower.safetensors",
                "'w'",
                "'f32'");
    }

    @Test
    void badShapeDimensions() throws IOException {
        String[] bad = {"-1", "2.5", "\"2\"", "null", "18446744073709551616", "1e3", "[2]"};
        for (int i = 0; i < bad.length; i++) {
            String name = "shape" + i + ".safetensors";
            rejects(
                    file(name, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1," + bad[i] + "],\"data_offsets\":[0,8]}}", 8),
                    name,
                    "'w'",
                    "shape[1] must be a non-negative integer");
        }
    }

    @Test
    void badDataOffsets() throws IOException {
        String[] bad = {"[0]", "[0,8,8]", "[-1,7]", "[0.0,8]", "[\"0\",8]", "[0,99999999999999999999]"};
        for (int i = 0; i < bad.length; i++) {
            String name = "offsets" + i + ".safetensors";
            rejects(
                    file(name, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + bad[i] + "}}", 8),
                    name,
                    "'w'",
                    "data_offsets");
        }
        rejects(
                file("reversed.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8),
                "reversed.safetensors",
                "'w'",
                "begin <= end");
    }

    @Test
    void endBeyondDataSection() throws IOException {
        rejects(
                file("short.safetensors", "{" + f32("w", 0) + "}", 6),
                "short.safetensors",
                "'w'",
                "end beyond the data section",
                "6 bytes");
    }

    @Test
    void byteLengthMustMatchShapeAndDtype() throws IOException {
        rejects(
                file("len.safetensors", "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "len.safetensors",
                "'w'",
                "span 8 bytes",
                "F64",
                "[2]",
                "needs 16 bytes");
    }

    @Test
    void shapeOverflowIsReported() throws IOException {
        rejects(
                file(
                        "overflow.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296]," + "\"data_offsets\":[0,8]}}",
                        8),
                "overflow.safetensors",
                "'w'",
                "would exceed 2^63 bytes");
        rejects(
                file(
                        "overflow2.safetensors",
                        "{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952]," + "\"data_offsets\":[0,8]}}",
                        8),
                "overflow2.safetensors",
                "'w'",
                "would exceed 2^63 bytes");
        rejects(
                file(
                        "emptyhuge.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296]," + "\"data_offsets\":[0,0]}}",
                        0),
                "emptyhuge.safetensors",
                "'w'",
                "would exceed 2^63 bytes");
    }

    @Test
    void overlappingTensors() throws IOException {
        rejects(
                file("overlap.safetensors", "{" + f32("a", 0) + "," + f32("b", 4) + "}", 12),
                "overlap.safetensors",
                "'b'",
                "overlap tensor 'a'");
        rejects(
                file("same.safetensors", "{" + f32("a", 0) + "," + f32("b", 0) + "}", 8),
                "same.safetensors",
                "overlap tensor");
    }

    @Test
    void holesAndTrailingBytes() throws IOException {
        rejects(
                file("hole.safetensors", "{" + f32("a", 0) + "," + f32("b", 12) + "}", 20),
                "hole.safetensors",
                "'b'",
                "[8, 12)",
                "without holes");
        rejects(file("tail.safetensors", "{" + f32("a", 0) + "}", 12), "tail.safetensors", "12 bytes", "[0, 8)");
    }

    @Test
    void metadataMustBeAStringMap() throws IOException {
        rejects(
                file("meta1.safetensors", "{\"__metadata__\":[\"a\"]," + f32("w", 0) + "}", 8),
                "meta1.safetensors",
                "__metadata__",
                "must be an object");
        rejects(
                file("meta2.safetensors", "{\"__metadata__\":{\"k\":1}," + f32("w", 0) + "}", 8),
                "meta2.safetensors",
                "__metadata__",
                "'k'",
                "must be a string");
        rejects(
                file("meta3.safetensors", "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}," + f32("w", 0) + "}", 8),
                "meta3.safetensors",
                "'k'",
                "must be a string");
    }

    @Test
    void rankBeyondNd4jLimitFailsOnRead() throws IOException {
        String shape = "1,".repeat(33) + "2";
        rejects(
                file(
                        "rank.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[0,8]}}",
                        8),
                "rank.safetensors",
                "'w'",
                "rank 34");
    }

    @Test
    void unknownTensorNameListsClosestNames() throws IOException {
        Path p = file("names.safetensors", "{" + f32("layer.0.weight", 0) + "," + f32("layer.0.bias", 8) + "}", 16);
        try (SafetensorsReader r = SafetensorsReader.open(p)) {
            assertLoupe(
                    () -> r.read("layer.0.weights"),
                    "names.safetensors",
                    "'layer.0.weights'",
                    "closest names: 'layer.0.weight', 'layer.0.bias'");
            assertLoupe(() -> r.info("x"), "names.safetensors", "'x'");
        }
    }

    @Test
    void missingFileIsALoupeException() {
        assertLoupe(
                () -> SafetensorsReader.open(dir.resolve("absent.safetensors")), "absent.safetensors", "cannot open");
    }
}
