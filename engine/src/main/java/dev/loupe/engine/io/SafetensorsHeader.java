package dev.loupe.engine.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses and validates the JSON header of a safetensors file.
 *
 * <p>Everything that can be checked without touching tensor data is checked here, once, at open,
 * so that reading a tensor later cannot fail on a malformed header: field types, known dtypes,
 * dimensions and offsets as non-negative 64-bit integers, byte length = element count × dtype size
 * (with overflow detection), and — as the format's spec demands — that the tensors tile the data
 * section exactly, without overlaps or holes.
 */
final class SafetensorsHeader {

    /** The reference implementation refuses headers above this size; so do we. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = Json.strict();

    private final String file;
    private final Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    private SafetensorsHeader(String file) {
        this.file = file;
    }

    /** Tensors in header order. Unmodifiable. */
    Map<String, TensorInfo> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    /** The {@code __metadata__} map (empty when absent). Unmodifiable. */
    Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /**
     * @param json       the header bytes
     * @param dataLength size in bytes of the data section that follows the header
     * @param file       the file, for error messages
     */
    static SafetensorsHeader parse(byte[] json, long dataLength, String file) {
        SafetensorsHeader h = new SafetensorsHeader(file);
        JsonNode root = h.parseJson(json);
        if (root == null || !root.isObject()) {
            throw new LoupeException(file + ": header must be a JSON object mapping tensor names to"
                    + " {\"dtype\", \"shape\", \"data_offsets\"}, found " + describe(root));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (METADATA_KEY.equals(e.getKey())) {
                h.parseMetadata(e.getValue());
            } else {
                h.tensors.put(e.getKey(), h.parseEntry(e.getKey(), e.getValue(), dataLength));
            }
        }
        h.checkLayout(dataLength);
        return h;
    }

    private JsonNode parseJson(byte[] json) {
        String text = decodeUtf8(json);
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new LoupeException(file + ": header is not valid JSON: " + e.getOriginalMessage() + locationOf(e), e);
        }
    }

    private String decodeUtf8(byte[] json) {
        ByteBuffer in = ByteBuffer.wrap(json);
        CharBuffer out = CharBuffer.allocate(json.length);
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isError()) {
            throw new LoupeException(file + ": header is not valid UTF-8: malformed byte 0x"
                    + Integer.toHexString(json[in.position()] & 0xFF) + " at file offset " + (8 + in.position()));
        }
        decoder.flush(out);
        return out.flip().toString();
    }

    private void parseMetadata(JsonNode node) {
        if (node.isNull()) {
            return; // the reference implementation deserialises this field as an Option
        }
        if (!node.isObject()) {
            throw new LoupeException(file + ": \"" + METADATA_KEY
                    + "\" must be an object mapping strings to strings, found " + describe(node));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new LoupeException(file + ": \"" + METADATA_KEY + "\" value for key " + quote(e.getKey())
                        + " must be a string, found " + describe(e.getValue()));
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
    }

    private TensorInfo parseEntry(String name, JsonNode node, long dataLength) {
        if (!node.isObject()) {
            throw tensorError(
                    name,
                    "header entry must be an object with \"dtype\", \"shape\" and" + " \"data_offsets\", found "
                            + describe(node));
        }
        JsonNode dtypeNode = required(name, node, "dtype");
        if (!dtypeNode.isTextual()) {
            throw tensorError(name, "\"dtype\" must be a string, found " + describe(dtypeNode));
        }
        SafetensorsDType dtype = SafetensorsDType.fromName(dtypeNode.textValue())
                .orElseThrow(() -> tensorError(
                        name,
                        "unsupported dtype " + quote(dtypeNode.textValue()) + "; supported: "
                                + SafetensorsDType.supportedNames()));

        JsonNode shapeNode = required(name, node, "shape");
        if (!shapeNode.isArray()) {
            throw tensorError(
                    name, "\"shape\" must be an array of non-negative integers, found " + describe(shapeNode));
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(name, "shape[" + i + "]", shapeNode.get(i));
        }
        long expectedBytes;
        try {
            expectedBytes = Shapes.byteLength(shape, dtype.size());
        } catch (ArithmeticException e) {
            throw tensorError(
                    name,
                    "shape " + Arrays.toString(shape) + " of " + dtype
                            + " is too large: its size or strides would exceed 2^63 bytes");
        }

        JsonNode offsetsNode = required(name, node, "data_offsets");
        if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw tensorError(
                    name,
                    "\"data_offsets\" must be [begin, end], two non-negative" + " integers, found "
                            + describe(offsetsNode));
        }
        long begin = nonNegativeLong(name, "data_offsets[0]", offsetsNode.get(0));
        long end = nonNegativeLong(name, "data_offsets[1]", offsetsNode.get(1));
        if (begin > end) {
            throw tensorError(name, "data_offsets [" + begin + ", " + end + "] must have begin <= end");
        }
        if (end > dataLength) {
            throw tensorError(
                    name,
                    "data_offsets [" + begin + ", " + end + "] end beyond the data" + " section, which has only "
                            + dataLength + " bytes (file truncated?)");
        }
        if (end - begin != expectedBytes) {
            throw tensorError(
                    name,
                    "data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                            + " bytes but dtype " + dtype + " with shape " + Arrays.toString(shape)
                            + " needs " + expectedBytes + " bytes");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** The spec: the data section must be "entirely indexed" — no overlaps, no holes. */
    private void checkLayout(long dataLength) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            if (t.begin() < covered) {
                throw tensorError(
                        t.name(),
                        "data_offsets [" + t.begin() + ", " + t.end()
                                + "] overlap tensor " + quote(previous.name()) + " at [" + previous.begin()
                                + ", " + previous.end() + "]; tensors must not share bytes");
            }
            if (t.begin() > covered) {
                throw tensorError(
                        t.name(),
                        "data_offsets [" + t.begin() + ", " + t.end()
                                + "] leave bytes [" + covered + ", " + t.begin() + ") of the data section"
                                + " unused; the format requires tensors to be packed without holes");
            }
            covered = t.end();
            previous = t;
        }
        if (covered != dataLength) {
            throw new LoupeException(file + ": the data section has " + dataLength
                    + " bytes but the tensors cover only [0, " + covered + "); the format requires"
                    + " no unused bytes (file has trailing data or was written incorrectly)");
        }
    }

    private JsonNode required(String name, JsonNode entry, String field) {
        JsonNode v = entry.get(field);
        if (v == null) {
            throw tensorError(name, "header entry is missing \"" + field + "\"");
        }
        return v;
    }

    private long nonNegativeLong(String name, String what, JsonNode v) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
            throw tensorError(name, what + " must be a non-negative integer below 2^63, found " + describe(v));
        }
        return v.longValue();
    }

    private LoupeException tensorError(String name, String what) {
        return new LoupeException(file + ": tensor " + quote(name) + ": " + what);
    }

    /** A JSON value summarised for an error message (type and a bounded excerpt). */
    static String describe(JsonNode v) {
        if (v == null || v.isMissingNode()) {
            return "nothing";
        }
        if (v.isNull()) {
            return "null";
        }
        String text = v.toString();
        if (text.length() > 60) {
            text = text.substring(0, 57) + "...";
        }
        return v.getNodeType().name().toLowerCase() + " " + text;
    }

    /** A name quoted for a message, shortened if a hostile file made it enormous. */
    static String quote(String name) {
        return "'" + (name.length() > 200 ? name.substring(0, 197) + "..." : name) + "'";
    }

    private static String locationOf(JsonProcessingException e) {
        return e.getLocation() == null
                ? ""
                : " (at character " + e.getLocation().getCharOffset() + ")";
    }
}
