package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./loupe info}'s summary: read from config and headers only, readable, and as JSON. */
class ModelSummaryTest {
    @Test
    void aHuggingFaceFolderIsSummarisedFromItsConfigAndHeaders(@TempDir Path tmp) throws Exception {
        Path dir = HfFixtures.copy("gemma2_bf16", tmp);
        ModelSummary s = ModelSummary.of(dir.toString());
        HookedTransformer loaded = HuggingFaceModel.load(dir);
        assertEquals("huggingface", s.format());
        assertEquals("gemma2", s.family());
        assertEquals("Gemma2ForCausalLM", s.architecture());
        assertEquals(loaded.config(), s.config());
        long counted = loaded.weights().asMap().values().stream()
                .mapToLong(a -> a.length())
                .sum();
        assertEquals(counted, s.parameters());
        assertEquals("BF16", s.storedDtype());
        assertEquals("float32", s.computeDtype());
        assertNull(s.tokenizer());
        assertEquals(loaded.hookNames().size(), s.hookPoints());
        String text = s.toText();
        for (String part : new String[] {
            "family       gemma2 (Gemma2ForCausalLM)",
            "3 layers, d_model 16",
            "RMSNorm before and after each sublayer",
            "score soft-cap 0.5",
            "BF16 on disk, float32 compute",
            "none found",
            "hook points  " + s.hookPoints()
        }) assertTrue(text.contains(part), part + " in:\n" + text);

        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        assertEquals(
                dir.resolve("tokenizer.json").toString(),
                ModelSummary.of(dir.toString()).tokenizer());
        JsonNode json = new ObjectMapper().valueToTree(s);
        assertEquals("gemma2", json.get("family").asText());
        assertEquals(s.parameters(), json.get("parameters").asLong());
        assertEquals(16, json.get("config").get("d_model").asInt());
    }

    @Test
    void aLoupeCheckpointAndTheZooAreSummarised(@TempDir Path tmp) {
        HookedTransformer m = TestModels.model(TestModels.all("float32").get("olmo2-like"), 1);
        Checkpoint.save(m, tmp.resolve("ckpt"));
        ModelSummary s = ModelSummary.of(tmp.resolve("ckpt").toString());
        assertEquals("loupe-checkpoint", s.format());
        assertEquals(m.config(), s.config());
        assertTrue(s.toText().contains("RMSNorm after each sublayer"), s.toText());
        assertTrue(s.toText().contains("q/k norm over all heads"), s.toText());
        ModelSummary zoo = ModelSummary.of("attn-only-2l");
        assertEquals("zoo", zoo.format());
        assertTrue(zoo.toText().contains("2 layers") && zoo.toText().contains("attention only"), zoo.toText());
        assertNull(zoo.tokenizer());
        ModelSummary text = ModelSummary.of("shakespeare-char");
        assertTrue(
                text.toText().contains("tokenizer    embedded with the model: Zoo.tokenizer(\"shakespeare-char\")"),
                text.toText());
    }
}
