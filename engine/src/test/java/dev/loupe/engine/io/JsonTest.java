package dev.loupe.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one set of mappers: what each accepts and refuses. */
class JsonTest {
    record Settings(int batchSize, double learningRate) {}

    @Test
    void strictRefusesWhatPythonsJsonWouldNotMeanAndTheGeneralMapperReads() throws Exception {
        assertEquals(2, Json.mapper().readTree("{\"a\":1,\"a\":2}").get("a").asInt());
        assertThrows(JsonProcessingException.class, () -> Json.strict().readTree("{\"a\":1,\"a\":2}"));
        assertThrows(JsonProcessingException.class, () -> Json.strict().readTree("{\"a\":1} {\"b\":2}"));
        assertEquals(1, Json.strict().readTree("{\"a\":1}\n").get("a").asInt());
    }

    @Test
    void fileFormatIsSnakeCaseIndentedAndEveryKeyIsRequired() throws Exception {
        String text = Json.fileFormat().writeValueAsString(new Settings(64, 1e-3));
        assertTrue(text.contains("\"batch_size\" : 64") && text.contains("\n"), text);
        assertEquals(new Settings(64, 1e-3), Json.fileFormat().readValue(text, Settings.class));
        assertThrows(
                JsonProcessingException.class,
                () -> Json.fileFormat().readValue("{\"batch_size\":64}", Settings.class),
                "a missing key");
        assertThrows(
                JsonProcessingException.class,
                () -> Json.fileFormat()
                        .readValue("{\"batch_size\":64,\"learning_rate\":1,\"momentum\":0.9}", Settings.class),
                "an unknown key");
        assertThrows(
                JsonProcessingException.class,
                () -> Json.fileFormat().readValue("{\"batch_size\":null,\"learning_rate\":1}", Settings.class),
                "null for a number");
    }

    @Test
    void writeIsCompact() {
        assertEquals("{\"ids\":[1,2,3]}", Json.write(Map.of("ids", new int[] {1, 2, 3})));
        assertEquals("[\"a\",0.5]", Json.write(List.of("a", 0.5)));
    }
}
