package dev.loupe.engine.io;

import static dev.loupe.engine.io.IoTestSupport.assertLoupe;
import static dev.loupe.engine.io.IoTestSupport.assertSameValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.weights.WeightProcessing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Loupe checkpoints: bit-exact round trips, TransformerLens names and shapes on disk, clear errors. */
class CheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Tokens TOKENS =
            Tokens.padded(List.of(new int[] {1, 5, 9, 3, 7}, new int[] {4, 2}), 0, Tokens.Side.LEFT);

    @TempDir
    Path tmp;

    /** Every architecture of TestModels (GQA, rotary, partial rotary, tied, attention-only, gated...) in both dtypes, plus a processed model. */
    private static Map<String, HookedTransformer> models() {
        Map<String, HookedTransformer> m = new LinkedHashMap<>();
        long seed = 1;
        for (String dtype : List.of("float32", "float64"))
            for (var e : TestModels.all(dtype).entrySet())
                m.put(e.getKey() + "/" + dtype, TestModels.model(e.getValue(), seed++));
        m.put(
                "gpt2-like/processed",
                WeightProcessing.process(
                        TestModels.model(TestModels.all("float32").get("gpt2-like"), 99)));
        return m;
    }

    @Test
    void saveThenLoadIsBitExactForEveryWeightAndGivesIdenticalLogits() {
        for (var e : models().entrySet()) {
            HookedTransformer model = e.getValue();
            Path dir = tmp.resolve(e.getKey().replace('/', '-'));
            Checkpoint.save(model, dir);
            assertTrue(Checkpoint.isCheckpoint(dir), e.getKey());
            HookedTransformer loaded = Checkpoint.load(dir);
            assertEquals(model.config(), loaded.config(), e.getKey());
            assertEquals(model.weights().names(), loaded.weights().names(), e.getKey());
            for (String name : model.weights().names())
                assertSameValues(model.weights().get(name), loaded.weights().get(name));
            INDArray before = model.run(TOKENS), after = loaded.run(TOKENS);
            assertSameValues(before, after);
        }
    }

    @Test
    void safetensorsHoldsTransformerLensNamesAndShapes() throws IOException {
        // llama-like: grouped-query attention (4 query heads, 2 key/value heads), d_model 8, d_head 4.
        ModelConfig cfg = TestModels.all("float32").get("llama-like");
        HookedTransformer model = TestModels.model(cfg, 3);
        Checkpoint.save(model, tmp);
        var root = JSON.readTree(tmp.resolve(Checkpoint.CONFIG).toFile());
        assertEquals("loupe-checkpoint", root.path("format").asText());
        assertEquals(1, root.path("version").asInt());
        assertEquals(8, root.path("config").path("d_model").asInt());
        assertEquals(2, root.path("config").path("n_kv_heads").asInt());
        try (SafetensorsReader r = SafetensorsReader.open(tmp.resolve(Checkpoint.WEIGHTS))) {
            assertEquals(List.copyOf(model.weights().names()), r.names());
            assertEquals("loupe-checkpoint", r.metadata().get("format"));
            assertArrayEquals(new long[] {4, 8, 4}, r.info("blocks.0.attn.W_Q").shape()); // [n_heads, d_model, d_head]
            assertArrayEquals(
                    new long[] {2, 8, 4}, r.info("blocks.0.attn.W_K").shape()); // [n_kv_heads, d_model, d_head]
            assertArrayEquals(new long[] {2, 8, 4}, r.info("blocks.1.attn.W_V").shape());
            assertArrayEquals(new long[] {4, 4, 8}, r.info("blocks.0.attn.W_O").shape()); // [n_heads, d_head, d_model]
            assertArrayEquals(new long[] {11, 8}, r.info("embed.W_E").shape());
            assertArrayEquals(new long[] {8, 12}, r.info("blocks.0.mlp.W_in").shape());
            assertArrayEquals(new long[] {8, 12}, r.info("blocks.0.mlp.W_gate").shape());
            assertArrayEquals(new long[] {12, 8}, r.info("blocks.0.mlp.W_out").shape());
            assertArrayEquals(new long[] {8}, r.info("blocks.0.ln1.w").shape());
            assertArrayEquals(new long[] {8, 11}, r.info("unembed.W_U").shape());
            for (String name : r.names()) {
                assertArrayEquals(
                        model.stateDict().get(name).shape(), r.info(name).shape(), name);
                assertSameValues(model.stateDict().get(name).dup('c'), r.read(name));
            }
            // The values sit where TransformerLens expects them: W_Q[h, i, j] = (x @ W_Q)'s input i -> head h, dim j.
            INDArray compute = model.weights().get("blocks.0.attn.W_Q"), stored = r.read("blocks.0.attn.W_Q");
            for (int h = 0; h < 4; h++)
                for (int i = 0; i < 8; i++)
                    for (int j = 0; j < 4; j++) assertEquals(compute.getFloat(i, h * 4 + j), stored.getFloat(h, i, j));
            INDArray wO = model.weights().get("blocks.1.attn.W_O"), storedO = r.read("blocks.1.attn.W_O");
            assertEquals(wO.getFloat(2 * 4 + 3, 5), storedO.getFloat(2, 3, 5));
        }
        // biases too, on a model that has them: b_Q [n_heads, d_head]
        HookedTransformer gpt2 = TestModels.model(TestModels.all("float32").get("gpt2-like"), 4);
        Path dir = tmp.resolve("gpt2");
        Checkpoint.save(gpt2, dir);
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(Checkpoint.WEIGHTS))) {
            assertArrayEquals(new long[] {2, 4}, r.info("blocks.0.attn.b_Q").shape());
            assertArrayEquals(new long[] {2, 4}, r.info("blocks.0.attn.b_V").shape());
            assertArrayEquals(new long[] {8}, r.info("blocks.0.attn.b_O").shape());
            assertArrayEquals(new long[] {16, 8}, r.info("pos_embed.W_pos").shape());
            assertArrayEquals(new long[] {11}, r.info("unembed.b_U").shape());
        }
    }

    // ------------------------------------------------------------------ bad checkpoints

    private Path saved(String name) {
        Path dir = tmp.resolve(name);
        Checkpoint.save(TestModels.model(TestModels.all("float32").get("gpt2-like"), 5), dir);
        return dir;
    }

    private static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
        Path file = dir.resolve(Checkpoint.CONFIG);
        ObjectNode root = (ObjectNode) JSON.readTree(file.toFile());
        edit.accept(root);
        Files.writeString(file, JSON.writeValueAsString(root));
    }

    private static ObjectNode config(ObjectNode root) {
        return (ObjectNode) root.get("config");
    }

    /** Rewrites model.safetensors with the checkpoint's own tensors, edited. */
    private static void editTensors(Path dir, Consumer<Map<String, INDArray>> edit) {
        Path file = dir.resolve(Checkpoint.WEIGHTS);
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (String n : r.names()) tensors.put(n, r.read(n));
        }
        edit.accept(tensors);
        SafetensorsWriter.write(file, tensors, Map.of());
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertFalse(Checkpoint.isCheckpoint(empty));
        assertLoupe(() -> Checkpoint.load(empty), empty.toString(), "config.json");
        Path dir = saved("no-weights");
        Files.delete(dir.resolve(Checkpoint.WEIGHTS));
        assertLoupe(() -> Checkpoint.load(dir), dir.resolve("model.safetensors").toString());
    }

    @Test
    void wrongFormatOrVersionIsRejected() throws IOException {
        Path dir = saved("format");
        Path cfg = dir.resolve("config.json");
        editConfig(dir, r -> r.put("format", "hf-transformers"));
        assertFalse(Checkpoint.isCheckpoint(dir));
        assertLoupe(() -> Checkpoint.load(dir), cfg.toString(), "\"format\" must be \"loupe-checkpoint\"");
        editConfig(dir, r -> r.remove("format"));
        assertLoupe(() -> Checkpoint.load(dir), cfg.toString(), "format");
        editConfig(dir, r -> r.put("format", "loupe-checkpoint").put("version", 2));
        assertLoupe(() -> Checkpoint.load(dir), cfg.toString(), "version 2 is not supported (expected 1)");
        editConfig(dir, r -> r.put("version", "1"));
        assertLoupe(() -> Checkpoint.load(dir), cfg.toString(), "version");
        editConfig(dir, r -> r.remove("version"));
        assertLoupe(() -> Checkpoint.load(dir), cfg.toString(), "version");
        Files.writeString(cfg, "{ not json");
        assertLoupe(() -> Checkpoint.load(dir), cfg.toString(), "not valid JSON");
    }

    @Test
    void configWithAMissingOrInvalidKeyNamesTheKey() throws IOException {
        Path dir = saved("config");
        Path cfg = dir.resolve("config.json");
        String good = Files.readString(cfg);
        record Case(Consumer<ObjectNode> edit, String... fragments) {}
        List<Case> cases = List.of(
                new Case(r -> config(r).remove("d_model"), "d_model"),
                new Case(r -> ((ObjectNode) config(r).get("biases")).remove("qkv"), "biases.qkv"),
                new Case(r -> config(r).put("d_model", "wide"), "d_model", "wide"),
                new Case(r -> config(r).putNull("n_layers"), "n_layers"),
                new Case(r -> config(r).put("n_heads", -2), "n_heads must be > 0"),
                new Case(r -> config(r).put("normalization", "BATCH_NORM"), "normalization", "BATCH_NORM"),
                new Case(r -> config(r).put("dtype", "float16"), "dtype", "float16"),
                new Case(r -> config(r).put("n_kv_heads", 3), "n_kv_heads"),
                new Case(r -> config(r).put("colour", "blue"), "colour"),
                new Case(r -> r.remove("config"), "\"config\""),
                new Case(r -> r.put("config", 7), "\"config\""),
                new Case(r -> r.putNull("config"), "\"config\""));
        for (Case c : cases) {
            Files.writeString(cfg, good);
            editConfig(dir, c.edit());
            String[] all = new String[c.fragments().length + 1];
            all[0] = cfg.toString();
            System.arraycopy(c.fragments(), 0, all, 1, c.fragments().length);
            assertLoupe(() -> Checkpoint.load(dir), all);
            assertLoupe(() -> Checkpoint.readConfig(dir), all);
        }
    }

    @Test
    void badTensorsAreNamed() {
        String file = "model.safetensors";
        Path shape = saved("shape");
        editTensors(shape, t -> t.put("blocks.1.attn.W_K", Nd4j.zeros(DataType.FLOAT, 2, 4, 8)));
        assertLoupe(() -> Checkpoint.load(shape), file, "'blocks.1.attn.W_K'", "[2, 4, 8]", "expected [2, 8, 4]");

        Path missing = saved("missing");
        editTensors(missing, t -> t.remove("blocks.0.mlp.b_out"));
        assertLoupe(() -> Checkpoint.load(missing), file, "missing weight 'blocks.0.mlp.b_out'");

        Path extra = saved("extra");
        editTensors(extra, t -> t.put("blocks.0.attn.W_gate", Nd4j.zeros(DataType.FLOAT, 8, 8)));
        assertLoupe(() -> Checkpoint.load(extra), file, "unexpected tensor 'blocks.0.attn.W_gate'");

        Path dtype = saved("dtype");
        editTensors(dtype, t -> t.put("ln_final.w", t.get("ln_final.w").castTo(DataType.DOUBLE)));
        assertLoupe(() -> Checkpoint.load(dtype), file, "'ln_final.w'", "DOUBLE", "float32");
    }

    @Test
    void truncatedWeightsAreRejected() throws IOException {
        Path dir = saved("truncated");
        Path file = dir.resolve(Checkpoint.WEIGHTS);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 13));
        assertLoupe(() -> Checkpoint.load(dir), file.toString());
        Files.write(file, java.util.Arrays.copyOf(all, 5));
        assertLoupe(() -> Checkpoint.load(dir), file.toString());
    }

    @Test
    void configThatDoesNotMatchTheWeightsNamesTheTensor() throws IOException {
        Path dir = saved("mismatch");
        editConfig(dir, r -> config(r).put("d_model", 10));
        assertLoupe(() -> Checkpoint.load(dir), "model.safetensors", "'embed.W_E'", "[11, 8]", "expected [11, 10]");
        editConfig(dir, r -> config(r).put("d_model", 8).put("n_layers", 3));
        assertLoupe(() -> Checkpoint.load(dir), "model.safetensors", "missing weight 'blocks.2.");
        editConfig(dir, r -> config(r).put("n_layers", 2).put("tied_embeddings", true));
        assertLoupe(() -> Checkpoint.load(dir), "model.safetensors", "unexpected tensor 'unembed.W_U'");
    }
}
