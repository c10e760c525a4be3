package dev.loupe.engine.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A parsed JSON file with typed, strict accessors: every wrong type or missing key is a
 * {@link LoupeException} naming the file and the JSON path ({@code model.vocab}, {@code added_tokens[3].id}).
 */
final class JsonFile {
    /**
     * Vocabularies have tens of thousands of distinct keys: interning and canonicalizing them as
     * field names costs seconds and saves nothing.
     */
    private static final ObjectMapper MAPPER = Json.mapper();

    final String name;
    final JsonNode root;

    private JsonFile(String name, JsonNode root) {
        this.name = name;
        this.root = root;
    }

    static JsonFile read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new LoupeException("cannot read " + file + ": " + e.getMessage(), e);
        }
        // Jackson would decode invalid UTF-8 silently in places; check it first to report the offset.
        Utf8.requireValid(bytes, file.toString());
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new LoupeException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new LoupeException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (root == null || root.isMissingNode())
            throw new LoupeException(file + ": empty file, expected a JSON object");
        return new JsonFile(file.toString(), root);
    }

    LoupeException error(String path, String message) {
        return new LoupeException(name + ": " + (path.isEmpty() ? "" : path + " ") + message);
    }

    private static String kind(JsonNode n) {
        return n == null
                ? "missing"
                : n.isNull() ? "null" : n.getNodeType().name().toLowerCase();
    }

    ObjectNode object(JsonNode n, String path) {
        if (n instanceof ObjectNode o) return o;
        throw error(path, "must be a JSON object, got " + kind(n));
    }

    ArrayNode array(JsonNode n, String path) {
        if (n instanceof ArrayNode a) return a;
        throw error(path, "must be a JSON array, got " + kind(n));
    }

    JsonNode required(ObjectNode o, String key, String path) {
        JsonNode n = o.get(key);
        if (n == null) throw error(path, "is missing \"" + key + "\"");
        return n;
    }

    String string(JsonNode n, String path) {
        if (n != null && n.isTextual()) return n.textValue();
        throw error(path, "must be a string, got " + kind(n));
    }

    /** The string at {@code key}, or null when absent or null. */
    String optString(ObjectNode o, String key, String path) {
        JsonNode n = o.get(key);
        return n == null || n.isNull() ? null : string(n, path + "." + key);
    }

    boolean optBool(ObjectNode o, String key, boolean fallback, String path) {
        JsonNode n = o.get(key);
        if (n == null || n.isNull()) return fallback;
        if (n.isBoolean()) return n.booleanValue();
        throw error(path + "." + key, "must be true or false, got " + kind(n));
    }

    int integer(JsonNode n, String path, long min, long max) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong())
            throw error(path, "must be an integer, got " + (n != null && n.isNumber() ? n.asText() : kind(n)));
        long v = n.longValue();
        if (v < min || v > max) throw error(path, "must be in " + min + ".." + max + ", got " + v);
        return (int) v;
    }

    /** A single character (one code point) string. */
    int character(JsonNode n, String path) {
        String s = string(n, path);
        if (s.isEmpty() || s.codePointCount(0, s.length()) != 1 || Character.isSurrogate(s.charAt(0)))
            throw error(path, "must be one character, got \"" + s + "\"");
        return s.codePointAt(0);
    }
}
