package dev.loupe.engine.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.loupe.engine.LoupeException;

/**
 * Loupe's one source of Jackson mappers: each kind of JSON Loupe reads or writes has its mapper
 * configured here, once, and shared (a configured mapper is thread-safe). Nothing else builds one.
 *
 * <ul>
 *   <li>{@link #mapper()}: JSON in general (figures, API answers, corpora, tokenizer.json, peers' output).
 *   <li>{@link #strict()}: files other programs wrote whose every byte matters (safetensors headers,
 *       Hugging Face config.json and weight indexes): a key given twice or text after the value is an error.
 *   <li>{@link #fileFormat()}: Loupe's own file formats (checkpoint config, training state, store manifest):
 *       records with snake_case keys, written indented; an unknown, missing or null key is an error.
 * </ul>
 */
public final class Json {
    /** The longest string a header may hold: safetensors' 100 MB header limit (Jackson's default is 20 MB). */
    private static final int MAX_STRING_LENGTH = 100_000_000;

    private static final ObjectMapper MAPPER = JsonMapper.builder(factory()).build();

    private static final ObjectMapper STRICT = JsonMapper.builder(factory())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private static final ObjectMapper FILE_FORMAT = JsonMapper.builder(factory())
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .build();

    private Json() {}

    /**
     * A new factory for each mapper: a builder's stream features (duplicate detection) are set on its
     * factory, so a shared one would make every mapper strict. A tokenizer.json has ~50k distinct keys:
     * interning or canonicalizing them costs time and memory for nothing, and Loupe's other JSON is too
     * small for canonicalization to matter.
     */
    private static JsonFactory factory() {
        return JsonFactory.builder()
                .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
                .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxStringLength(MAX_STRING_LENGTH)
                        .build())
                .build();
    }

    /** Jackson's defaults: compact output; a bound class's unknown properties are errors. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** For files others wrote: duplicate keys and trailing text are errors, as in Python's json and serde. */
    public static ObjectMapper strict() {
        return STRICT;
    }

    /** For Loupe's own files: snake_case records, indented; unknown, missing and null keys are errors. */
    public static ObjectMapper fileFormat() {
        return FILE_FORMAT;
    }

    /** {@code value} as compact JSON text ({@code {"ids":[1,2]}}). */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new LoupeException(
                    "cannot write " + value.getClass().getSimpleName() + " as JSON: " + e.getMessage(), e);
        }
    }
}
