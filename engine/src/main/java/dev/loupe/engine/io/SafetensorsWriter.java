package dev.loupe.engine.io;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes tensors to a Hugging Face safetensors file (see {@link SafetensorsReader} for the layout).
 *
 * <p>Tensors are stored in the iteration order of the map passed in, both in the JSON header and in
 * the data section, each in logical c order whatever its in-memory layout (views, 'f' order and
 * strided arrays are fine). The header is padded with spaces so the data section starts at a
 * multiple of 8 bytes, as the reference implementation does, which keeps every tensor 8-aligned
 * when sizes allow.
 *
 * <p>The file is written crash-safely through {@link AtomicFileWriter} and streamed tensor by
 * tensor: at most one tensor (a c-order copy of a non-contiguous one) is held in addition to the
 * caller's arrays.
 */
public final class SafetensorsWriter {

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} (name → array; FLOAT, DOUBLE, HALF, BFLOAT16, LONG, INT, SHORT, BYTE,
     * UBYTE or BOOL) and {@code metadata} (may be empty or null) to {@code file}, replacing it
     * atomically.
     *
     * @throws LoupeException for an unsupported array type, a null or reserved name, or an I/O error
     */
    public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata) {
        List<Map.Entry<String, INDArray>> entries = new ArrayList<>(tensors.entrySet());
        byte[] header = header(file, entries, metadata == null ? Map.of() : metadata);
        AtomicFileWriter.write(file, ch -> {
            ByteBuffer prefix =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            writeFully(ch, prefix.flip());
            writeFully(ch, ByteBuffer.wrap(header));
            for (Map.Entry<String, INDArray> e : entries) {
                ArrayBytes.write(e.getValue(), ch);
            }
        });
    }

    /** One tensor of a header: its name, dtype and shape; tensors are stored back to back in header order. */
    public record HeaderEntry(String name, SafetensorsDType dtype, long[] shape) {
        /** The tensor's size in bytes (overflow is an error). */
        public long bytes() {
            long n = dtype.size();
            for (long dim : shape) n = Math.multiplyExact(n, dim);
            return n;
        }
    }

    /**
     * The safetensors header (the JSON after the 8-byte length) for {@code tensors} stored back to back in
     * this order and {@code metadata} (may be empty), padded with spaces to a multiple of 8 bytes and to at
     * least {@code minLength} bytes: a writer that streams data before it knows the final shape reserves
     * {@code minLength} bytes and rewrites the header in place (the activation store's shards).
     *
     * @param file for error messages
     * @throws LoupeException for a null or reserved name, non-Unicode text, or a header over the limit readers
     *     enforce, or longer than {@code minLength} when the space was reserved for it
     */
    public static byte[] header(String file, List<HeaderEntry> tensors, Map<String, String> metadata, int minLength) {
        Map<String, Object> json = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            Map<String, String> meta = new LinkedHashMap<>();
            metadata.forEach((k, v) -> {
                if (k == null || v == null || !encodable(k) || !encodable(v)) {
                    throw new LoupeException(file + ": metadata keys and values must be non-null,"
                            + " well-formed Unicode strings; got " + k + " -> " + v);
                }
                meta.put(k, v);
            });
            json.put(SafetensorsHeader.METADATA_KEY, meta);
        }
        long offset = 0;
        for (HeaderEntry t : tensors) {
            String name = t.name();
            if (name == null || SafetensorsHeader.METADATA_KEY.equals(name) || !encodable(name)) {
                throw new LoupeException(file + ": tensor name " + name + " is not allowed (names"
                        + " must be well-formed Unicode and not \"" + SafetensorsHeader.METADATA_KEY + "\")");
            }
            long end = offset + t.bytes();
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", t.dtype().name());
            entry.put("shape", t.shape());
            entry.put("data_offsets", new long[] {offset, end});
            json.put(name, entry);
            offset = end;
        }
        byte[] bytes = Json.write(json).getBytes(StandardCharsets.UTF_8);
        int padded = (bytes.length + 7) / 8 * 8;
        if (padded > SafetensorsHeader.MAX_HEADER_BYTES) {
            throw new LoupeException(file + ": header would be " + padded + " bytes, over the "
                    + SafetensorsHeader.MAX_HEADER_BYTES + "-byte limit readers enforce (metadata too large?)");
        }
        if (minLength > 0 && bytes.length > minLength) {
            throw new LoupeException(file + ": header of " + bytes.length + " bytes does not fit the " + minLength
                    + " bytes reserved for it");
        }
        byte[] out = Arrays.copyOf(bytes, Math.max(padded, minLength));
        Arrays.fill(out, bytes.length, out.length, (byte) ' ');
        return out;
    }

    /** The header of {@code entries}' arrays, in map order. */
    private static byte[] header(Path file, List<Map.Entry<String, INDArray>> entries, Map<String, String> metadata) {
        List<HeaderEntry> tensors = new ArrayList<>();
        for (Map.Entry<String, INDArray> e : entries) {
            INDArray array = e.getValue();
            if (array == null) {
                throw new LoupeException(file + ": tensor '" + e.getKey() + "' is null");
            }
            SafetensorsDType dtype = SafetensorsDType.require(array.dataType(), file.toString(), e.getKey());
            tensors.add(new HeaderEntry(e.getKey(), dtype, array.shape()));
        }
        return header(file.toString(), tensors, metadata, 0);
    }

    /** False for strings with unpaired surrogates, which UTF-8 cannot represent. */
    private static boolean encodable(String s) {
        return StandardCharsets.UTF_8.newEncoder().canEncode(s);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
