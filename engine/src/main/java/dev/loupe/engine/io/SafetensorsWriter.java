package dev.loupe.engine.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
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

    private static final ObjectMapper JSON = new ObjectMapper();

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

    /** The JSON header, validated and padded with spaces to a multiple of 8 bytes. */
    private static byte[] header(Path file, List<Map.Entry<String, INDArray>> entries, Map<String, String> metadata) {
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
        for (Map.Entry<String, INDArray> e : entries) {
            String name = e.getKey();
            INDArray array = e.getValue();
            if (name == null || SafetensorsHeader.METADATA_KEY.equals(name) || !encodable(name)) {
                throw new LoupeException(file + ": tensor name " + name + " is not allowed (names"
                        + " must be well-formed Unicode and not \"" + SafetensorsHeader.METADATA_KEY + "\")");
            }
            if (array == null) {
                throw new LoupeException(file + ": tensor '" + name + "' is null");
            }
            SafetensorsDType dtype = SafetensorsDType.require(array.dataType(), file.toString(), name);
            long end = offset + ArrayBytes.byteLength(array);
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", dtype.name());
            entry.put("shape", array.shape());
            entry.put("data_offsets", new long[] {offset, end});
            json.put(name, entry);
            offset = end;
        }
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsString(json).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new LoupeException(file + ": cannot encode safetensors header: " + e, e);
        }
        int padded = (bytes.length + 7) / 8 * 8;
        if (padded > SafetensorsHeader.MAX_HEADER_BYTES) {
            throw new LoupeException(file + ": header would be " + padded + " bytes, over the "
                    + SafetensorsHeader.MAX_HEADER_BYTES + "-byte limit readers enforce (metadata too large?)");
        }
        byte[] out = Arrays.copyOf(bytes, padded);
        Arrays.fill(out, bytes.length, padded, (byte) ' ');
        return out;
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
