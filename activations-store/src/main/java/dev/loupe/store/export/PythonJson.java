package dev.loupe.store.export;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.io.Json;
import java.io.IOException;

/**
 * JSON laid out as Python's {@code json} module writes it, so that the files and metadata an export
 * writes are byte for byte what Hugging Face {@code datasets} writes: {@code json.dumps(x)} (one
 * line, {@code ", "} and {@code ": "} separators) for Arrow/Parquet schema metadata, and
 * {@code json.dump(x, f, indent=2)} for {@code dataset_info.json} and {@code state.json}. Non-ASCII
 * characters are escaped ({@code ensure_ascii=True}). Loupe's one mapper ({@link Json}) writes; only the
 * layout is Python's.
 */
final class PythonJson {
    private static final ObjectMapper JSON = Json.mapper();

    private PythonJson() {}

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    /** {@code json.dumps(node)}. */
    static String dumps(JsonNode node) {
        return write(node, new OneLine());
    }

    /** {@code json.dumps(node, indent=2)}, as {@code json.dump(node, f, indent=2)} writes it (no final newline). */
    static String dumpsIndented(JsonNode node) {
        return write(node, new Indented());
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static String write(JsonNode node, com.fasterxml.jackson.core.PrettyPrinter layout) {
        try {
            return JSON.writer(layout).with(JsonWriteFeature.ESCAPE_NON_ASCII).writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Python's default separators: {@code ", "} between items, {@code ": "} after keys. */
    private static final class OneLine extends MinimalPrettyPrinter {
        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }
    }

    /** indent=2: every item on its own line, {@code ": "} after keys, empty containers as {@code {}} and {@code []}. */
    private static final class Indented extends DefaultPrettyPrinter {
        Indented() {
            DefaultIndenter twoSpaces = new DefaultIndenter("  ", "\n");
            indentObjectsWith(twoSpaces);
            indentArraysWith(twoSpaces);
        }

        @Override
        public DefaultPrettyPrinter createInstance() {
            return new Indented();
        }

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeEndObject(JsonGenerator g, int entries) throws IOException {
            if (entries == 0) {
                _nesting--;
                g.writeRaw('}');
            } else super.writeEndObject(g, entries);
        }

        @Override
        public void writeEndArray(JsonGenerator g, int values) throws IOException {
            if (values == 0) {
                _nesting--;
                g.writeRaw(']');
            } else super.writeEndArray(g, values);
        }
    }
}
