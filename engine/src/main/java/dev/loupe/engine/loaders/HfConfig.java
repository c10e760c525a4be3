package dev.loupe.engine.loaders;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Hugging Face {@code config.json}, read with typed getters whose errors name the key and the
 * file. A key that is absent or {@code null} counts as missing: required keys then fail, optional
 * ones take the default the family's {@code transformers} config class uses.
 */
final class HfConfig {
    private static final ObjectMapper JSON = Json.strict();

    static final int MAX_LAYERS = 100_000;

    private final Path file;
    private final JsonNode root;

    private HfConfig(Path file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    static HfConfig read(Path file) {
        if (!Files.isRegularFile(file)) throw new LoupeException(file + ": no such file");
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new LoupeException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read: " + e, e);
        }
        if (root == null || !root.isObject()) throw new LoupeException(file + ": must hold a JSON object");
        return new HfConfig(file, root);
    }

    Path file() {
        return file;
    }

    /** The {@code model_type}, or null when the file has none. */
    String modelType() {
        JsonNode n = root.get("model_type");
        return n != null && n.isTextual() ? n.asText() : null;
    }

    /** Whether the key holds a number. */
    boolean isNumber(String key) {
        JsonNode n = root.get(key);
        return n != null && n.isNumber();
    }

    /**
     * The dtype the weights were saved in: transformers 5's {@code dtype} or 4.x's {@code torch_dtype}
     * (refused when both are there and differ), or null when the config names none.
     */
    String storedDtype() {
        String v5 = optionalString("dtype", null), v4 = optionalString("torch_dtype", null);
        if (v5 != null && v4 != null && !v5.equals(v4))
            throw invalid("torch_dtype", "is \"" + v4 + "\" but \"dtype\" is \"" + v5 + "\"; they must agree");
        return v5 != null ? v5 : v4;
    }

    boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    /** True when the key is present with the value {@code null} (which some keys use for "off"). */
    boolean isNull(String key) {
        JsonNode n = root.get(key);
        return n != null && n.isNull();
    }

    /** A structural size: an integer > 0. */
    int positiveInt(String key) {
        int v = requiredInt(key);
        if (v <= 0) throw invalid(key, "must be > 0, found " + v);
        return v;
    }

    /** The number of layers: also bounded, so that a corrupt value fails here rather than as OutOfMemoryError. */
    int layerCount(String key) {
        int v = positiveInt(key);
        if (v > MAX_LAYERS)
            throw invalid(key, "is " + v + "; more than " + MAX_LAYERS + " layers is not a plausible model");
        return v;
    }

    int requiredInt(String key) {
        if (!has(key)) throw missing(key);
        return toInt(key, root.get(key));
    }

    int optionalInt(String key, int dflt) {
        return has(key) ? toInt(key, root.get(key)) : dflt;
    }

    double requiredDouble(String key) {
        if (!has(key)) throw missing(key);
        return toDouble(key, root.get(key));
    }

    double optionalDouble(String key, double dflt) {
        return has(key) ? toDouble(key, root.get(key)) : dflt;
    }

    /** An epsilon: a number >= 0. */
    double optionalEps(String key, double dflt) {
        double v = optionalDouble(key, dflt);
        if (v < 0) throw invalid(key, "must be >= 0, found " + v);
        return v;
    }

    boolean optionalBool(String key, boolean dflt) {
        if (!has(key)) return dflt;
        JsonNode n = root.get(key);
        if (!n.isBoolean()) throw invalid(key, "must be true or false, found " + n);
        return n.asBoolean();
    }

    String optionalString(String key, String dflt) {
        if (!has(key)) return dflt;
        JsonNode n = root.get(key);
        if (!n.isTextual()) throw invalid(key, "must be a string, found " + n);
        return n.asText();
    }

    /** An object-valued key (e.g. {@code rope_scaling}), or null when absent or null. */
    JsonNode optionalObject(String key) {
        if (!has(key)) return null;
        JsonNode n = root.get(key);
        if (!n.isObject()) throw invalid(key, "must be an object, found " + n);
        return n;
    }

    /** An array-valued key (e.g. {@code layer_types}), or null when absent or null. */
    JsonNode optionalArray(String key) {
        if (!has(key)) return null;
        JsonNode n = root.get(key);
        if (!n.isArray()) throw invalid(key, "must be an array, found " + n);
        return n;
    }

    /** {@code object.key} of an object-valued key, e.g. {@code rope_scaling.factor}; required. */
    double nestedDouble(String objectKey, JsonNode object, String key) {
        JsonNode n = object.get(key);
        if (n == null || n.isNull()) throw new LoupeException(file + ": missing key \"" + objectKey + "." + key + "\"");
        return toDouble(objectKey + "." + key, n);
    }

    int nestedInt(String objectKey, JsonNode object, String key) {
        JsonNode n = object.get(key);
        if (n == null || n.isNull()) throw new LoupeException(file + ": missing key \"" + objectKey + "." + key + "\"");
        return toInt(objectKey + "." + key, n);
    }

    int toInt(String key, JsonNode n) {
        if (!n.isNumber() || !n.canConvertToExactIntegral() || !n.canConvertToInt())
            throw invalid(key, "must be an integer, found " + n);
        return n.intValue();
    }

    double toDouble(String key, JsonNode n) {
        if (!n.isNumber()) throw invalid(key, "must be a number, found " + n);
        double v = n.doubleValue();
        if (!Double.isFinite(v)) throw invalid(key, "must be a finite number, found " + n);
        return v;
    }

    LoupeException missing(String key) {
        return new LoupeException(file + ": missing key \"" + key + "\" (required for model_type " + modelType() + ")");
    }

    LoupeException invalid(String key, String problem) {
        return new LoupeException(file + ": \"" + key + "\" " + problem);
    }
}
