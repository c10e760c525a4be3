package dev.loupe.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** docs/architecture.md's table of config fields against ModelConfig's declarations and Checkpoint's back-fill. */
class ModelConfigFieldsTest {
    private static final ObjectMapper JSON =
            new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    @TempDir
    Path tmp;

    private record Row(String key, String dflt, String meaning) {
        boolean required() {
            return dflt.equals("required");
        }

        boolean newer() {
            return meaning.startsWith("*newer*");
        }
    }

    private static List<Row> table() throws IOException {
        Path doc = Files.exists(Path.of("../docs/architecture.md"))
                ? Path.of("../docs/architecture.md")
                : Path.of("docs/architecture.md");
        Pattern row = Pattern.compile("^\\| `([a-z_0-9]+)` \\| (.+?) \\| (.+) \\|$");
        List<Row> rows = new ArrayList<>();
        for (String line : Files.readAllLines(doc)) {
            Matcher m = row.matcher(line);
            if (m.matches()) rows.add(new Row(m.group(1), m.group(2), m.group(3)));
        }
        assertTrue(rows.size() > 20, "rows of the config table: " + rows.size());
        return rows;
    }

    /** The value a default column states, when it is one JSON literal in backticks; null for a default in words. */
    private static JsonNode literal(String dflt) {
        if (!dflt.matches("`[^`]+`")) return null;
        try {
            return JSON.readTree(dflt.substring(1, dflt.length() - 1));
        } catch (JsonProcessingException e) {
            return null; // e.g. `n_heads`: derived from other fields
        }
    }

    @Test
    void tableHasEveryFieldInOrderWithItsDefault() throws IOException {
        List<Row> table = table();
        ObjectNode required = JSON.createObjectNode();
        int[] samples = {24, 2, 3, 5, 7}; // d_model, n_layers, n_heads, d_vocab, n_ctx
        int next = 0;
        for (Row r : table) if (r.required()) required.put(r.key(), samples[next++]);
        JsonNode built = JSON.valueToTree(JSON.treeToValue(required, ModelConfig.class));
        List<String> keys = new ArrayList<>();
        built.fieldNames().forEachRemaining(keys::add);
        assertEquals(keys, table.stream().map(Row::key).toList(), "keys, in declaration order");
        int literals = 0;
        for (Row r : table) {
            JsonNode want = literal(r.dflt());
            if (want == null) continue;
            literals++;
            assertEquals(want, built.get(r.key()), r.key() + ": default in docs/architecture.md");
        }
        assertTrue(literals >= 18, "literal defaults checked: " + literals);
    }

    @Test
    void aCheckpointWithoutANewerKeyTakesItsDefaultAndWithoutAnOlderOneIsRefused() throws IOException {
        ModelConfig cfg = TestModels.all("float32").get("gpt2-like");
        Path dir = tmp.resolve("m");
        Checkpoint.save(TestModels.model(cfg, 3), dir);
        Path file = dir.resolve(Checkpoint.CONFIG);
        String saved = Files.readString(file);
        for (Row r : table()) {
            ObjectNode root = (ObjectNode) JSON.readTree(saved);
            ((ObjectNode) root.get("config")).remove(r.key());
            Files.writeString(file, JSON.writeValueAsString(root));
            if (r.newer()) {
                HookedTransformer loaded = Checkpoint.load(dir);
                assertEquals(cfg, loaded.config(), r.key() + " absent: the architecture as it was");
            } else {
                LoupeException e = assertThrows(LoupeException.class, () -> Checkpoint.load(dir), r.key());
                assertTrue(e.getMessage().contains("\"" + r.key() + "\""), e.getMessage());
            }
        }
    }
}
