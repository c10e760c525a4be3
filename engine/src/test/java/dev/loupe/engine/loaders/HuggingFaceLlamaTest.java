package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The Hugging Face llama folder: Loupe's writer and reader agree with each other, with the
 * llama2.c loader, and — through a Python re-implementation of Hugging Face's conversion and
 * forward — with Hugging Face's layout.
 */
class HuggingFaceLlamaTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PYTHON = "/usr/bin/python3";

    @TempDir
    Path dir;

    static double maxDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.sub(b), false).maxNumber().doubleValue();
    }

    static INDArray row0(INDArray logits) {
        return logits.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
    }

    // ------------------------------------------------------------------ stories260K

    @Test
    void stories260KThroughTheHuggingFaceFolderGivesTheSameLogits() {
        Stories260K.assumeAvailable();
        HookedTransformer fromBin = Llama2cCheckpoint.load(Stories260K.bin());
        HuggingFaceLlamaWriter.write(fromBin, dir);
        HookedTransformer fromHf = HuggingFaceModel.load(dir);
        assertEquals(fromBin.config(), fromHf.config());
        int[] tokens = Stories260K.inputTokens();
        INDArray a = fromBin.run(tokens), b = fromHf.run(tokens);
        double max = maxDiff(a, b);
        System.out.printf("stories260K llama2.c vs Hugging Face folder: max |diff| %.3g%n", max);
        assertTrue(max <= 1e-5, "max |diff| " + max);
        assertTrue(maxDiff(row0(b), Stories260K.logits()) <= Llama2cFidelityTest.TOLERANCE);
    }

    /** A folder whose q/k were not permuted (llama2.c's interleaved layout) is a different model. */
    @Test
    void unpermutedQueryAndKeyWeightsGiveDifferentLogits() {
        Stories260K.assumeAvailable();
        HuggingFaceLlamaWriter.write(Llama2cCheckpoint.load(Stories260K.bin(), false), dir);
        INDArray wrong = row0(HuggingFaceModel.load(dir).run(Stories260K.inputTokens()));
        double max = maxDiff(wrong, Stories260K.logits());
        System.out.printf("stories260K Hugging Face folder with unpermuted q/k: max |diff| vs run.c %.3g%n", max);
        assertTrue(max > 0.1, "unpermuted q/k should not reproduce run.c, max |diff| " + max);
    }

    /**
     * The proof that the folder is in Hugging Face's layout, independent of Loupe's code: Python
     * converts the .bin with convert_llama_weights_to_hf.py's permute (every tensor must be
     * bit-identical to ours) and runs Hugging Face's Llama forward on our folder (must match run.c).
     */
    @Test
    void independentPythonConversionAndForwardAgree() throws Exception {
        Stories260K.assumeAvailable();
        assumeTorch();
        HookedTransformer model = Llama2cCheckpoint.load(Stories260K.bin());
        HuggingFaceLlamaWriter.write(model, dir.resolve("hf"));
        int[] tokens = Stories260K.inputTokens();
        Path loupe = dir.resolve("loupe.npy");
        NpyWriter.write(loupe, row0(model.run(tokens)).dup('c'));
        Map<String, String> out = python(Stories260K.bin(), dir.resolve("hf"), Stories260K.logitsFile(), tokens, loupe);
        System.out.println("stories260K Python check: " + out);
        assertEquals("47", out.get("tensors_checked")); // embed + 5 layers x 9 + norm (tied: no lm_head)
        assertEquals("", out.get("tensors_mismatched"), "tensors differing from Hugging Face's conversion");
        assertEquals("", out.get("config_mismatched"), "config.json fields differing from the header");
        assertTrue(Double.parseDouble(out.get("hf_forward_f32_vs_reference")) <= 1e-4, out.toString());
        assertTrue(Double.parseDouble(out.get("hf_forward_f64_vs_reference")) <= 1e-4, out.toString());
        assertTrue(Double.parseDouble(out.get("loupe_vs_hf_forward_f64")) <= 1e-4, out.toString());
    }

    /** The same independent check for an untied, grouped-query model with random weights. */
    @Test
    void independentPythonCheckOfAnUntiedModel() throws Exception {
        assumeTorch();
        HookedTransformer model = Llama2cCheckpointTest.tiny(false, 11);
        Path bin = Llama2cTestFiles.write(dir.resolve("m.bin"), model);
        HookedTransformer loaded = Llama2cCheckpoint.load(bin);
        HuggingFaceLlamaWriter.write(loaded, dir.resolve("hf"));
        int[] tokens = Llama2cCheckpointTest.TOKENS;
        Path logits = dir.resolve("loupe.npy");
        NpyWriter.write(logits, row0(loaded.run(tokens)).dup('c'));
        Map<String, String> out = python(bin, dir.resolve("hf"), logits, tokens, null);
        assertEquals("21", out.get("tensors_checked")); // embed + 2 x 9 + norm + lm_head
        assertEquals("", out.get("tensors_mismatched"));
        assertEquals("", out.get("config_mismatched"));
        assertTrue(Double.parseDouble(out.get("hf_forward_f64_vs_reference")) <= 1e-4, out.toString());
    }

    // ------------------------------------------------------------------ round trips without shared data

    private HookedTransformer roundTrip(HookedTransformer model) {
        HuggingFaceLlamaWriter.write(model, dir);
        HookedTransformer back = HuggingFaceModel.load(dir);
        assertEquals(model.config(), back.config());
        assertEquals(model.run(Llama2cCheckpointTest.TOKENS), back.run(Llama2cCheckpointTest.TOKENS));
        return back;
    }

    static ModelConfig llamaLike(Biases biases, boolean tied) {
        return ModelConfig.builder()
                .dModel(16)
                .nLayers(2)
                .nHeads(4)
                .nKvHeads(2)
                .dMlp(20)
                .dVocab(13)
                .nCtx(32)
                .normalization(ModelConfig.Normalization.RMS_NORM)
                .normEps(1e-6)
                .positional(ModelConfig.Positional.ROTARY)
                .rotaryBase(500000)
                .activation(ModelConfig.Activation.SILU_GATED)
                .biases(biases)
                .tiedEmbeddings(tied)
                .build();
    }

    @Test
    void tiedUntiedAndBiasedModelsRoundTrip() {
        roundTrip(TestModels.model(llamaLike(Biases.none(), true), 1));
        roundTrip(TestModels.model(llamaLike(Biases.none(), false), 2));
        roundTrip(TestModels.model(llamaLike(new Biases(true, true, false, false, false), false), 3));
    }

    @Test
    void float64ModelsAreWrittenAsFloat32() throws IOException {
        ModelConfig c =
                llamaLike(Biases.none(), false).toBuilder().dtype("float64").build();
        HuggingFaceLlamaWriter.write(TestModels.model(c, 4), dir);
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
            assertEquals("F32", r.info("lm_head.weight").dtype().name());
        }
        assertEquals(
                "float32",
                JSON.readTree(dir.resolve("config.json").toFile())
                        .get("torch_dtype")
                        .asText());
        assertEquals("float32", HuggingFaceModel.load(dir).config().dtype());
    }

    @Test
    void configJsonHasHuggingFacesFields() throws IOException {
        HuggingFaceLlamaWriter.write(TestModels.model(llamaLike(Biases.none(), true), 1), dir);
        var cfg = JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
        assertEquals("llama", cfg.get("model_type").asText());
        assertEquals(16, cfg.get("hidden_size").asInt());
        assertEquals(20, cfg.get("intermediate_size").asInt());
        assertEquals(2, cfg.get("num_hidden_layers").asInt());
        assertEquals(4, cfg.get("num_attention_heads").asInt());
        assertEquals(2, cfg.get("num_key_value_heads").asInt());
        assertEquals(13, cfg.get("vocab_size").asInt());
        assertEquals(32, cfg.get("max_position_embeddings").asInt());
        assertEquals(1e-6, cfg.get("rms_norm_eps").asDouble());
        assertEquals(500000.0, cfg.get("rope_theta").asDouble());
        assertTrue(cfg.get("tie_word_embeddings").asBoolean());
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
            assertTrue(!r.contains("lm_head.weight"));
            assertEquals(
                    "[8, 16]",
                    Arrays.toString(
                            r.info("model.layers.1.self_attn.k_proj.weight").shape()));
            assertEquals(
                    "[16, 16]",
                    Arrays.toString(
                            r.info("model.layers.1.self_attn.o_proj.weight").shape()));
            assertEquals(
                    "[20, 16]",
                    Arrays.toString(
                            r.info("model.layers.0.mlp.gate_proj.weight").shape()));
            assertEquals(
                    "[16, 20]",
                    Arrays.toString(
                            r.info("model.layers.0.mlp.down_proj.weight").shape()));
        }
    }

    /** Qwen2: biases on q, k and v only, which the Llama writer cannot express; written by hand here. */
    @Test
    void readsQwen2StyleBiases() throws IOException {
        HookedTransformer model = TestModels.model(llamaLike(new Biases(true, false, false, false, false), false), 5);
        SafetensorsWriter.write(dir.resolve("model.safetensors"), HuggingFaceLlamaWriter.tensors(model), Map.of());
        ObjectNode cfg = HuggingFaceLlamaWriter.config(model.config());
        cfg.put("model_type", "qwen2").remove("attention_bias");
        Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(cfg));
        HookedTransformer back = HuggingFaceModel.load(dir);
        assertEquals(model.config(), back.config());
        assertEquals(model.run(Llama2cCheckpointTest.TOKENS), back.run(Llama2cCheckpointTest.TOKENS));
    }

    @Test
    void mistralSlidingWindowIsLocalAttention() throws IOException {
        HookedTransformer model = TestModels.model(llamaLike(Biases.none(), false), 6);
        HuggingFaceLlamaWriter.write(model, dir);
        editConfig(c -> c.put("model_type", "mistral").put("sliding_window", 8));
        assertEquals(8, HuggingFaceModel.readConfig(dir).windowSize());
        assertEquals(32, HuggingFaceModel.readConfig(dir).nCtx());
    }

    @Test
    void readsShardedFolders() throws IOException {
        HookedTransformer model = TestModels.model(llamaLike(Biases.none(), false), 8);
        Map<String, INDArray> all = HuggingFaceLlamaWriter.tensors(model),
                a = new LinkedHashMap<>(),
                b = new LinkedHashMap<>();
        ObjectNode index = JSON.createObjectNode(), map = index.putObject("weight_map");
        all.forEach((n, t) -> {
            boolean first = n.startsWith("model.layers.0.") || n.startsWith("model.embed");
            (first ? a : b).put(n, t);
            map.put(n, first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        });
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), a, Map.of());
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), b, Map.of());
        Files.write(dir.resolve("model.safetensors.index.json"), JSON.writeValueAsBytes(index));
        Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(HuggingFaceLlamaWriter.config(model.config())));
        assertEquals(
                model.run(Llama2cCheckpointTest.TOKENS),
                HuggingFaceModel.load(dir).run(Llama2cCheckpointTest.TOKENS));
        // A shard outside the folder is refused.
        map.put("model.norm.weight", "../model-00002-of-00002.safetensors");
        Files.write(dir.resolve("model.safetensors.index.json"), JSON.writeValueAsBytes(index));
        assertLoadFails("shard \"../model-00002-of-00002.safetensors\" must be a file name in the same folder");
    }

    // ------------------------------------------------------------------ errors

    @Test
    void writerRejectsWhatLlamaCannotExpress() {
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> HuggingFaceLlamaWriter.write(
                        HookedTransformer.random(
                                ModelConfig.gpt2Small().toBuilder()
                                        .dModel(8)
                                        .nHeads(2)
                                        .nKvHeads(2)
                                        .nLayers(1)
                                        .dVocab(11)
                                        .nCtx(8)
                                        .dMlp(12)
                                        .dHead(4)
                                        .build(),
                                1),
                        dir));
        for (String s : List.of("LAYER_NORM", "LEARNED", "GELU_NEW", "the MLP has biases", "unembedding has a bias"))
            assertTrue(e.getMessage().contains(s), e.getMessage());
        assertThrows(
                LoupeException.class,
                () -> HuggingFaceLlamaWriter.write(
                        TestModels.model(llamaLike(new Biases(true, false, false, false, false), false), 1), dir));
        assertThrows(
                LoupeException.class,
                () -> HuggingFaceLlamaWriter.write(
                        TestModels.model(
                                llamaLike(Biases.none(), false).toBuilder()
                                        .rotaryDim(2)
                                        .build(),
                                1),
                        dir));
    }

    private void editConfig(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        edit.accept(cfg);
        Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(cfg));
    }

    private void assertLoadFails(String... fragments) {
        LoupeException e = assertThrows(LoupeException.class, () -> HuggingFaceModel.load(dir));
        for (String s : fragments)
            assertTrue(e.getMessage().contains(s), "should mention '" + s + "': " + e.getMessage());
    }

    private static Boolean torchAvailable;

    static void assumeTorch() throws InterruptedException {
        if (torchAvailable == null) {
            try {
                Process p = new ProcessBuilder(PYTHON, "-c", "import torch, numpy")
                        .redirectErrorStream(true)
                        .start();
                p.getInputStream().readAllBytes();
                torchAvailable = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException e) {
                torchAvailable = false;
            }
        }
        Assumptions.assumeTrue(
                torchAvailable, "the independent Hugging Face check needs " + PYTHON + " with torch and numpy");
    }

    private static Map<String, String> python(Path bin, Path hf, Path reference, int[] tokens, Path loupe)
            throws Exception {
        Path script = Path.of(
                HuggingFaceLlamaTest.class.getResource("hf_llama_reference.py").toURI());
        List<String> cmd = new ArrayList<>(List.of(
                PYTHON,
                script.toString(),
                bin.toString(),
                hf.toString(),
                reference.toString(),
                Arrays.stream(tokens).mapToObj(Integer::toString).collect(Collectors.joining(","))));
        if (loupe != null) cmd.add(loupe.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), "python failed:\n" + output);
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) out.put(line.substring(0, eq), line.substring(eq + 1).trim());
        }
        return out;
    }
}
