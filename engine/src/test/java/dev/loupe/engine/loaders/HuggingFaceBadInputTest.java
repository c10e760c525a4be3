package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Every way a Hugging Face folder can be wrong gives a LoupeException that names what is wrong and where. */
class HuggingFaceBadInputTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static LoupeException loadFails(Path folder, String... mustContain) {
        LoupeException e = assertThrows(LoupeException.class, () -> HuggingFaceModel.load(folder));
        for (String s : mustContain)
            assertTrue(e.getMessage().contains(s), "message lacks '" + s + "': " + e.getMessage());
        return e;
    }

    Path withConfig(String fixture, Consumer<ObjectNode> edit) throws IOException {
        Path dir = HfFixtures.copy(fixture, tmp);
        Path file = dir.resolve("config.json");
        ObjectNode c = (ObjectNode) JSON.readTree(file.toFile());
        edit.accept(c);
        JSON.writeValue(file.toFile(), c);
        return dir;
    }

    /** Rewrites a safetensors file with its tensors (stored types kept) edited by {@code edit}. */
    static void rewrite(Path file, Consumer<Map<String, INDArray>> edit) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (String n : r.names()) t.put(n, r.read(n));
        }
        edit.accept(t);
        SafetensorsWriter.write(file, t, Map.of("format", "pt"));
    }

    // ------------------------------------------------------------------ config.json

    @Test
    void unknownModelTypeListsTheSupportedOnes() throws IOException {
        Path dir = withConfig("llama", c -> c.put("model_type", "bert"));
        loadFails(
                dir,
                "config.json",
                "\"bert\"",
                "gpt2, gpt_neox, llama, mistral, qwen2, qwen3, phi3, olmo2, gemma, gemma2, gemma3_text");
        Path none = withConfig("gpt2", c -> c.remove("model_type"));
        loadFails(none, "model_type", "supported model types: gpt2");
    }

    @ParameterizedTest(name = "{0} without {1}")
    @CsvSource({
        "gpt2, n_embd",
        "gpt2, n_layer",
        "gpt2, n_head",
        "gpt2, vocab_size",
        "gpt2, n_positions",
        "pythia, hidden_size",
        "pythia, num_hidden_layers",
        "pythia, intermediate_size",
        "pythia, max_position_embeddings",
        "llama, hidden_size",
        "llama, num_attention_heads",
        "llama, intermediate_size",
        "llama, vocab_size",
        "qwen2_f16, num_hidden_layers",
        "mistral_bf16, max_position_embeddings",
        "gemma2_bf16, head_dim",
        "gemma2_bf16, num_key_value_heads",
        "gemma2_bf16, hidden_size"
    })
    void aMissingRequiredKeyIsNamed(String fixture, String key) throws IOException {
        Path dir = withConfig(fixture, c -> c.remove(key));
        loadFails(dir, dir.resolve("config.json").toString(), "missing key \"" + key + "\"");
        Path nulled = withConfig(fixture, c -> c.putNull(key));
        loadFails(nulled, "missing key \"" + key + "\"");
    }

    @Test
    void contradictoryOrUnsupportedRotaryAndMixtureOfExpertsConfigsAreRefusedNamingTheKey() throws IOException {
        loadFails(
                withConfig("llama", c -> c.putObject("rope_parameters")
                        .put("rope_type", "default")
                        .put("rope_theta", 5e5)),
                "\"rope_theta\" is 10000.0",
                "rope_parameters.rope_theta is 500000.0",
                "must agree");
        loadFails(
                withConfig("llama", c -> c.putObject("rope_parameters")
                        .put("rope_type", "yarn")
                        .put("factor", 4)),
                "\"rope_parameters.rope_type\" is \"yarn\"",
                "\"default\" and \"llama3\"");
        loadFails(
                withConfig("llama", c -> c.putObject("rope_parameters")
                        .put("rope_type", "linear")
                        .put("factor", 2)),
                "rope_parameters.rope_type",
                "linear");
        loadFails(
                withConfig("llama3_bf16", c -> ((ObjectNode)
                                c.putObject("rope_parameters").setAll((ObjectNode) c.get("rope_scaling")))
                        .put("factor", 4.0)),
                "\"rope_scaling\"",
                "contradicts rope_parameters");
        loadFails(
                withConfig("pythia", c -> c.putObject("rope_parameters").put("partial_rotary_factor", 0.5)),
                "\"rotary_pct\" is 0.25",
                "rope_parameters.partial_rotary_factor is 0.5");
        loadFails(
                withConfig("llama", c -> c.put("num_local_experts", 8)), "\"num_local_experts\"", "mixture-of-experts");
        loadFails(withConfig("llama", c -> c.put("num_experts", 4)), "\"num_experts\"", "mixture-of-experts");
        loadFails(withConfig("llama", c -> c.put("dtype", "bfloat16")), "\"torch_dtype\" is \"float32\"", "\"dtype\"");
        loadFails(
                withConfig("gemma2_bf16", c -> c.putArray("layer_types")
                        .add("sliding_attention")
                        .add("chunked_attention")
                        .add("full_attention")),
                "layer_types",
                "chunked_attention");
        // transformers 5 writes the same model with these keys: it loads, to the same logits
        Path v5 = withConfig("pythia", c -> {
            c.remove("rotary_pct");
            c.remove("rotary_emb_base");
            c.remove("torch_dtype");
            c.put("dtype", "float32");
            c.putObject("rope_parameters")
                    .put("rope_type", "default")
                    .put("rope_theta", 10000.0)
                    .put("partial_rotary_factor", 0.25);
        });
        assertTrue(HfFixtures.maxLogitDiff(HuggingFaceModel.load(v5), HfFixtures.folder("pythia")) <= 1e-4);
    }

    @Test
    void inconsistentOrMistypedKeysAreNamed() throws IOException {
        loadFails(withConfig("gpt2", c -> c.put("n_head", 3)), "n_embd", "multiple of n_head");
        loadFails(
                withConfig("llama", c -> c.put("num_key_value_heads", 3)),
                "num_attention_heads",
                "num_key_value_heads");
        loadFails(withConfig("llama", c -> c.put("hidden_size", "16")), "\"hidden_size\" must be an integer");
        loadFails(withConfig("llama", c -> c.put("hidden_size", 16.5)), "\"hidden_size\" must be an integer");
        loadFails(withConfig("llama", c -> c.put("num_hidden_layers", 0)), "\"num_hidden_layers\" must be > 0");
        loadFails(withConfig("llama", c -> c.put("rms_norm_eps", -1)), "config.json", "\"rms_norm_eps\" must be >= 0");
        loadFails(withConfig("llama", c -> c.put("rope_theta", 0)), "\"rope_theta\" must be > 0");
        loadFails(withConfig("llama", c -> c.put("hidden_act", "gelu")), "\"hidden_act\"", "silu");
        loadFails(withConfig("llama", c -> c.put("mlp_bias", true)), "mlp_bias");
        loadFails(
                withConfig("llama3_bf16", c -> ((ObjectNode) c.get("rope_scaling")).put("rope_type", "yarn")),
                "rope_scaling",
                "yarn",
                "llama3");
        loadFails(
                withConfig("llama3_bf16", c -> ((ObjectNode) c.get("rope_scaling")).remove("low_freq_factor")),
                "rope_scaling.low_freq_factor");
        loadFails(
                withConfig("gemma2_bf16", c -> c.putArray("layer_types").add("sliding_attention")),
                "layer_types",
                "one per layer");
        loadFails(withConfig("gemma2_bf16", c -> c.put("sliding_window", 0)), "sliding_window", ">= 1");
        loadFails(withConfig("gemma2_bf16", c -> c.put("query_pre_attn_scalar", -4)), "query_pre_attn_scalar");
        loadFails(
                withConfig("gpt2", c -> c.put("scale_attn_by_inverse_layer_idx", true)),
                "scale_attn_by_inverse_layer_idx");
        loadFails(withConfig("pythia", c -> c.put("rotary_pct", 1.5)), "rotary_pct");
        loadFails(
                withConfig("pythia", c -> c.put("num_hidden_layers", Integer.MAX_VALUE)),
                "num_hidden_layers",
                "plausible");
    }

    @Test
    void brokenConfigFiles() throws IOException {
        Path dir = HfFixtures.copy("gpt2", tmp);
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", ");
        loadFails(dir, "config.json", "not valid JSON");
        Files.writeString(dir.resolve("config.json"), "[1, 2]");
        loadFails(dir, "config.json", "JSON object");
        Files.delete(dir.resolve("config.json"));
        loadFails(dir, "config.json");
    }

    @Test
    void aConfigThatDisagreesWithTheWeightsNamesTheTensorAndBothShapes() throws IOException {
        Path dir = withConfig("llama", c -> c.put("intermediate_size", 40));
        loadFails(dir, "model.layers.0.mlp.gate_proj.weight", "[24, 16]", "expected [40, 16]");
        Path lessLayers = withConfig("llama", c -> c.put("num_hidden_layers", 1));
        loadFails(lessLayers, "unexpected tensor \"model.layers.1.");
        Path moreLayers = withConfig("llama", c -> c.put("num_hidden_layers", 3));
        loadFails(moreLayers, "missing tensor \"model.layers.2.input_layernorm.weight\"");
        Path untied = withConfig("gemma2_bf16", c -> c.put("tie_word_embeddings", false));
        loadFails(untied, "missing tensor \"lm_head.weight\"");
    }

    // ------------------------------------------------------------------ the weights

    @Test
    void aTensorOfTheWrongShapeIsNamedWithExpectedAndFoundShapes() throws IOException {
        Path dir = HfFixtures.copy("llama", tmp);
        rewrite(
                dir.resolve("model.safetensors"),
                t -> t.put("model.layers.1.self_attn.k_proj.weight", Nd4j.zeros(DataType.FLOAT, 8, 15)));
        loadFails(dir, "model.safetensors", "model.layers.1.self_attn.k_proj.weight", "[8, 15]", "expected [8, 16]");
    }

    @Test
    void missingExtraAndNonFloatTensors() throws IOException {
        Path dir = HfFixtures.copy("gpt2", tmp);
        Path file = dir.resolve("model.safetensors");
        rewrite(file, t -> t.remove("h.1.mlp.c_fc.bias"));
        loadFails(dir, "missing tensor \"h.1.mlp.c_fc.bias\"", "closest names", "h.0.mlp.c_fc.bias");

        dir = HfFixtures.copy("llama", tmp.resolve("b"));
        rewrite(
                dir.resolve("model.safetensors"),
                t -> t.put("model.layers.0.self_attn.rotary_emb.something", Nd4j.zeros(DataType.FLOAT, 2)));
        loadFails(dir, "unexpected tensor \"model.layers.0.self_attn.rotary_emb.something\"");

        dir = HfFixtures.copy("llama", tmp.resolve("c"));
        rewrite(dir.resolve("model.safetensors"), t -> t.put("model.norm.weight", Nd4j.zeros(DataType.INT, 16)));
        loadFails(dir, "model.norm.weight", "I32", "F32, F16, BF16");
    }

    @Test
    void knownBuffersAndATiedHeadAreIgnored() throws IOException {
        Path dir = HfFixtures.copy("gpt2", tmp);
        rewrite(dir.resolve("model.safetensors"), t -> {
            t.put("h.0.attn.bias", Nd4j.ones(DataType.FLOAT, 1, 1, 16, 16));
            t.put("h.0.attn.masked_bias", Nd4j.scalar(-1e4f));
            t.put("lm_head.weight", t.get("wte.weight").dup());
        });
        double diff = HfFixtures.maxLogitDiff(HuggingFaceModel.load(dir), dir);
        assertTrue(diff <= HuggingFaceModelTest.TOL, "diff " + diff);
    }

    @Test
    void namesWithAndWithoutTheModelPrefixBothLoad() throws IOException {
        Path dir = HfFixtures.copy("llama", tmp);
        rewrite(dir.resolve("model.safetensors"), t -> {
            Map<String, INDArray> bare = new LinkedHashMap<>();
            t.forEach((n, a) -> bare.put(n.startsWith("model.") ? n.substring(6) : n, a));
            t.clear();
            t.putAll(bare);
        });
        assertTrue(HfFixtures.maxLogitDiff(HuggingFaceModel.load(dir), dir) <= HuggingFaceModelTest.TOL);
    }

    @Test
    void noWeightsFile() throws IOException {
        Path dir = HfFixtures.copy("llama", tmp);
        Files.move(dir.resolve("model.safetensors"), dir.resolve("pytorch_model.bin"));
        loadFails(dir, "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin is not supported");
    }

    // ------------------------------------------------------------------ sharded folders

    @Test
    void aShardMissingFromDiskIsNamed() throws IOException {
        Path dir = HfFixtures.copy("qwen2_f16", tmp);
        Files.delete(dir.resolve("model-00002-of-00003.safetensors"));
        loadFails(dir, "model.safetensors.index.json", "model-00002-of-00003.safetensors", "does not exist");
    }

    @Test
    void aTruncatedShardIsNamed() throws IOException {
        Path dir = HfFixtures.copy("pythia", tmp);
        Path shard = dir.resolve("model-00002-of-00002.safetensors");
        try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        loadFails(dir, shard.toString());
        try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.WRITE)) {
            ch.truncate(5);
        }
        loadFails(dir, shard.toString(), "8-byte header length");
    }

    @Test
    void anIndexThatDisagreesWithItsShards() throws IOException {
        Path dir = HfFixtures.copy("pythia", tmp);
        Path index = dir.resolve("model.safetensors.index.json");
        ObjectNode root = (ObjectNode) JSON.readTree(index.toFile());
        ObjectNode map = (ObjectNode) root.get("weight_map");
        String tensor = map.fieldNames().next();
        String shard = map.get(tensor).asText();
        map.put(
                tensor,
                shard.equals("model-00001-of-00002.safetensors")
                        ? "model-00002-of-00002.safetensors"
                        : "model-00001-of-00002.safetensors");
        JSON.writeValue(index.toFile(), root);
        loadFails(dir, "weight_map puts \"" + tensor + "\"", "no such tensor");

        map.put(tensor, "../elsewhere.safetensors");
        JSON.writeValue(index.toFile(), root);
        loadFails(dir, "../elsewhere.safetensors", "file name in the same folder");

        root.remove("weight_map");
        JSON.writeValue(index.toFile(), root);
        loadFails(dir, "weight_map");

        Files.writeString(index, "{");
        loadFails(dir, "model.safetensors.index.json", "not valid JSON");
    }
}
