package dev.loupe.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loupe.engine.LoupeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Helpers shared by the io tests: hand-built files and exact array comparison. */
final class IoTestSupport {

    private IoTestSupport() {}

    /** A safetensors file: the given header text (as UTF-8, unpadded) followed by {@code data}. */
    static byte[] safetensors(String headerJson, byte[] data) {
        return safetensors(headerJson.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] safetensors(byte[] header, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length)
                .array());
        out.writeBytes(header);
        out.writeBytes(data);
        return out.toByteArray();
    }

    static Path write(Path dir, String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    /** The data section of a safetensors file. */
    static byte[] dataSection(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return Arrays.copyOfRange(all, (int) (8 + n), all.length);
    }

    /** Same type, same shape, and every element identical (NaN equal to NaN, -0.0 != 0.0). */
    static void assertSameValues(INDArray expected, INDArray actual) {
        assertEquals(expected.dataType(), actual.dataType(), "dtype");
        assertArrayEquals(expected.shape(), actual.shape(), "shape");
        assertEquals('c', actual.ordering(), "read arrays are c-ordered");
        if (expected.isEmpty()) {
            return;
        }
        INDArray e = flat(expected);
        INDArray a = flat(actual);
        for (long i = 0; i < e.length(); i++) {
            if (expected.dataType() == DataType.LONG) {
                assertEquals(e.getLong(i), a.getLong(i), "element " + i);
            } else if (expected.dataType() == DataType.BOOL) {
                assertEquals(e.getDouble(i), a.getDouble(i), "element " + i);
            } else {
                double x = e.getDouble(i);
                double y = a.getDouble(i);
                if (Double.compare(x, y) != 0) {
                    fail("element " + i + ": expected " + x + " but was " + y);
                }
            }
        }
    }

    private static INDArray flat(INDArray x) {
        return x.rank() == 0 ? x.reshape(1) : x.dup('c').reshape(x.length());
    }

    /** Asserts {@code body} throws a LoupeException mentioning every one of {@code fragments}. */
    static LoupeException assertLoupe(Executable body, String... fragments) {
        LoupeException e = org.junit.jupiter.api.Assertions.assertThrows(LoupeException.class, body);
        for (String f : fragments) {
            if (!e.getMessage().contains(f)) {
                fail("message should contain \"" + f + "\": " + e.getMessage());
            }
        }
        return e;
    }

    static byte[] leFloats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }
}
