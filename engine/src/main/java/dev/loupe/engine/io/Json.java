package dev.loupe.engine.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;

/**
 * Loupe's one source of Jackson mappers. Each mapper is configured once, here, and shared (Jackson
 * mappers are thread-safe once configured); callers never build their own.
 */
public final class Json {
    private static final ObjectMapper PLAIN = new ObjectMapper();

    private Json() {}

    /** Jackson's defaults: compact output; unknown properties of a bound class are errors. */
    public static ObjectMapper mapper() {
        return PLAIN;
    }

    /** {@code value} as compact JSON text ({@code {"ids":[1,2]}}). */
    public static String write(Object value) {
        try {
            return PLAIN.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new LoupeException(
                    "cannot write " + value.getClass().getSimpleName() + " as JSON: " + e.getMessage(), e);
        }
    }
}
