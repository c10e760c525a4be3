package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Each supported family, loaded from a folder in Hugging Face's exact layout, gives the logits of an
 * independent PyTorch implementation of that family (reference_models.py) within 1e-4.
 */
class HuggingFaceModelTest {
    static final double TOL = 1e-4;

    static Stream<String> cases() {
        return HfFixtures.CASES.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void logitsMatchTheIndependentPyTorchForward(String name) {
        Path folder = HfFixtures.folder(name);
        HookedTransformer model = HuggingFaceModel.load(folder);
        double diff = HfFixtures.maxLogitDiff(model, folder);
        System.out.printf("hf fidelity %-24s max |logit diff| = %.2e%n", name, diff);
        assertTrue(diff <= TOL, name + ": max |logit diff| " + diff + " > " + TOL);
    }

    /**
     * With torch at hand, the committed folders must be exactly what the script writes today, and
     * the logits it computes now must still match (guards against fixtures drifting from the script).
     */
    @Test
    void theScriptRegeneratesTheFixturesByteForByte(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(
                HfFixtures.torchAvailable(), HfFixtures.PYTHON + " with torch and numpy is needed to regenerate");
        HfFixtures.regenerate(tmp);
        for (String name : HfFixtures.CASES) {
            Path fresh = tmp.resolve(name), committed = HfFixtures.folder(name);
            try (Stream<Path> files = Files.list(fresh)) {
                for (Path f : files.toList()) {
                    if (f.getFileName().toString().equals("logits.npy"))
                        continue; // torch versions may differ in the last bit
                    assertArrayEquals(
                            Files.readAllBytes(committed.resolve(f.getFileName())),
                            Files.readAllBytes(f),
                            name + "/" + f.getFileName() + " differs from what reference_models.py writes");
                }
            }
            double diff = HfFixtures.maxLogitDiff(HuggingFaceModel.load(fresh), fresh);
            assertTrue(diff <= TOL, name + " (regenerated): max |logit diff| " + diff);
        }
    }

    // ------------------------------------------------------------------ what each config becomes

    @Test
    void gpt2Config() {
        ModelConfig c = HuggingFaceModel.readConfig(HfFixtures.folder("gpt2"));
        assertEquals(16, c.dModel());
        assertEquals(8, c.dHead());
        assertEquals(32, c.dMlp()); // n_inner
        assertEquals(16, c.nCtx()); // n_positions
        assertEquals(Activation.GELU_NEW, c.activation());
        assertTrue(c.tiedEmbeddings());
        assertFalse(c.biases().unembed());
        assertEquals(Math.sqrt(8), c.attnScale());
    }

    @Test
    void neoxConfigs() {
        ModelConfig pythia = HuggingFaceModel.readConfig(HfFixtures.folder("pythia"));
        assertEquals(2, pythia.rotaryDim()); // int(8 * 0.25)
        assertTrue(pythia.parallelAttnMlp());
        assertFalse(pythia.tiedEmbeddings());
        assertEquals(Activation.GELU, pythia.activation());
        ModelConfig seq = HuggingFaceModel.readConfig(HfFixtures.folder("gpt_neox_sequential_f16"));
        assertFalse(seq.parallelAttnMlp());
        assertEquals(2, seq.rotaryDim()); // int(4 * 0.5)
        assertEquals(1000, seq.rotaryBase());
    }

    @Test
    void llamaFamilyConfigs() {
        ModelConfig llama = HuggingFaceModel.readConfig(HfFixtures.folder("llama"));
        assertEquals(2, llama.nKvHeads());
        assertEquals(Activation.SILU_GATED, llama.activation());
        assertNull(llama.ropeScaling());
        assertEquals(ModelConfig.Biases.none(), llama.biases());
        ModelConfig l3 = HuggingFaceModel.readConfig(HfFixtures.folder("llama3_bf16"));
        assertEquals(new ModelConfig.RopeScaling(8, 1, 4, 256), l3.ropeScaling());
        assertEquals(500000, l3.rotaryBase());
        assertTrue(l3.tiedEmbeddings());
        ModelConfig mistral = HuggingFaceModel.readConfig(HfFixtures.folder("mistral_bf16"));
        assertEquals(4, mistral.windowSize());
        assertEquals(List.of(0, 1), mistral.localAttnLayers());
        ModelConfig qwen = HuggingFaceModel.readConfig(HfFixtures.folder("qwen2_f16"));
        assertEquals(new ModelConfig.Biases(true, false, false, false, false), qwen.biases());
        assertEquals(List.of(), qwen.localAttnLayers()); // use_sliding_window = false
    }

    @Test
    void gemma2Config() {
        ModelConfig c = HuggingFaceModel.readConfig(HfFixtures.folder("gemma2_bf16"));
        assertEquals(Normalization.RMS_NORM, c.normalization());
        assertTrue(c.useNormalizationBeforeAndAfter());
        assertEquals(Math.sqrt(16), c.embedScale());
        assertEquals(Math.sqrt(32), c.attnScale()); // query_pre_attn_scalar = 32, head_dim = 8
        assertEquals(0.5, c.attnScoresSoftCap());
        assertEquals(3.0, c.outputLogitsSoftCap());
        assertEquals(4, c.windowSize());
        assertEquals(List.of(0, 2), c.localAttnLayers()); // even layers are local
        assertEquals(Activation.GELU_GATED, c.activation());
        assertEquals(8, c.dHead());
        assertTrue(c.tiedEmbeddings());
    }

    // ------------------------------------------------------------------ what Gemma 2's hooks hold

    @Test
    void gemma2HooksHoldScaledEmbeddingsCappedScoresAndPostNormOutputs() {
        HookedTransformer m = HuggingFaceModel.load(HfFixtures.folder("gemma2_bf16"));
        Tokens tokens = HfFixtures.tokens(HfFixtures.folder("gemma2_bf16"));
        ForwardResult result = m.runWithCache(tokens, ActivationFilter.all());
        ActivationCache cache = result.cache();
        // hook_embed: W_E rows times sqrt(d_model)
        INDArray row = m.weights().get("embed.W_E").getRow(tokens.ids()[0][0]).mul(4.0);
        assertEquals(
                0,
                Transforms.abs(cache.get("hook_embed")
                                .get(NDArrayIndex.point(0), NDArrayIndex.point(0), NDArrayIndex.all())
                                .sub(row))
                        .maxNumber()
                        .doubleValue(),
                1e-6);
        // hook_attn_scores: soft-capped (|s| < cap) where not masked; local layers mask beyond the window
        for (int l = 0; l < 3; l++) {
            INDArray s = cache.get("attn_scores", l);
            for (long i = 0; i < s.length(); i++)
                if (!Double.isInfinite(s.getDouble(i))) assertTrue(Math.abs(s.getDouble(i)) < 0.5, "layer " + l);
            double farScore = s.getDouble(0, 0, 9, 0); // query 9 and key 0: 9 positions apart, window 4
            assertEquals(l % 2 == 0, Double.isInfinite(farScore), "layer " + l + " score[9, 0] = " + farScore);
            assertEquals(l % 2 == 0, cache.get("pattern", l).getDouble(0, 0, 9, 5) == 0, "layer " + l);
        }
        // hook_attn_out is ln1_post's output, its hook_normalized (x / scale) * w; likewise hook_mlp_out and ln2_post
        for (String n : List.of("ln1_post", "ln2_post")) {
            INDArray w = m.weights().get("blocks.1." + n + ".w").reshape(1, 1, -1);
            INDArray out = cache.get(n.equals("ln1_post") ? "blocks.1.hook_attn_out" : "blocks.1.hook_mlp_out");
            assertEquals(
                    0,
                    Transforms.abs(out.sub(cache.get("blocks.1." + n + ".hook_normalized")
                                    .mul(w)))
                            .maxNumber()
                            .doubleValue(),
                    1e-6,
                    n);
        }
        // unembed.hook_out: the logits before the cap, as TransformerLens hooks them; the returned logits are capped
        INDArray raw = cache.get("unembed.hook_out");
        assertEquals(
                0,
                Transforms.abs(Transforms.tanh(raw.div(3.0), true).muli(3.0).sub(result.logits()))
                        .maxNumber()
                        .doubleValue(),
                1e-6);
    }

    @Test
    void gemmaNormWeightsAreStoredPlusOne() throws IOException {
        HookedTransformer m = HuggingFaceModel.load(HfFixtures.folder("gemma2_bf16"));
        try (var r = dev.loupe.engine.io.SafetensorsReader.open(
                HfFixtures.folder("gemma2_bf16").resolve("model.safetensors"))) {
            INDArray stored = r.readFloat("model.layers.1.post_feedforward_layernorm.weight");
            assertEquals(
                    0,
                    Transforms.abs(stored.add(1).sub(m.weights().get("blocks.1.ln2_post.w")))
                            .maxNumber()
                            .doubleValue(),
                    0);
        }
    }

    // ------------------------------------------------------------------ families that load through others

    /** SmolLM2-135M's config.json (HuggingFaceTB/SmolLM2-135M), a llama config. */
    static final String SMOLLM2_135M =
            """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu", "hidden_size": 576,
             "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": true,
             "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9,
             "num_hidden_layers": 30, "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
             "rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000, "tie_word_embeddings": true,
             "torch_dtype": "bfloat16", "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 49152}
            """;

    /** QwQ-32B's config.json (Qwen/QwQ-32B), a qwen2 config. */
    static final String QWQ_32B =
            """
            {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
             "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 5120, "initializer_range": 0.02,
             "intermediate_size": 27648, "max_position_embeddings": 40960, "max_window_layers": 64,
             "model_type": "qwen2", "num_attention_heads": 40, "num_hidden_layers": 64, "num_key_value_heads": 8,
             "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 1000000.0, "sliding_window": 32768,
             "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
             "use_cache": true, "use_sliding_window": false, "vocab_size": 152064}
            """;

    @Test
    void smolLm2LoadsThroughLlama(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("config.json"), SMOLLM2_135M);
        ModelConfig c = HuggingFaceModel.readConfig(tmp);
        assertEquals(576, c.dModel());
        assertEquals(30, c.nLayers());
        assertEquals(9, c.nHeads());
        assertEquals(3, c.nKvHeads());
        assertEquals(64, c.dHead());
        assertEquals(1536, c.dMlp());
        assertEquals(100000, c.rotaryBase());
        assertEquals(64, c.rotaryDim());
        assertEquals(1e-5, c.normEps());
        assertTrue(c.tiedEmbeddings());
        assertEquals(Activation.SILU_GATED, c.activation());
        assertEquals(134_515_008L, c.parameterCount()); // "135M"
        String interleaved = SMOLLM2_135M.replace("\"rope_interleaved\": false", "\"rope_interleaved\": true");
        Files.writeString(tmp.resolve("config.json"), interleaved);
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(
                        dev.loupe.engine.LoupeException.class, () -> HuggingFaceModel.readConfig(tmp))
                .getMessage()
                .contains("\"rope_interleaved\""));
    }

    @Test
    void qwqLoadsThroughQwen2(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("config.json"), QWQ_32B);
        ModelConfig c = HuggingFaceModel.readConfig(tmp);
        assertEquals(5120, c.dModel());
        assertEquals(64, c.nLayers());
        assertEquals(40, c.nHeads());
        assertEquals(8, c.nKvHeads());
        assertEquals(128, c.dHead());
        assertEquals(1_000_000, c.rotaryBase());
        assertTrue(c.localAttnLayers().isEmpty(), "use_sliding_window is false");
        assertFalse(c.tiedEmbeddings());
        assertTrue(c.biases().qkv() && !c.biases().attnOut());
        assertEquals(32_763_876_352L, c.parameterCount()); // "32B"
    }
}
