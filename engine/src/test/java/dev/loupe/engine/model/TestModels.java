package dev.loupe.engine.model;

import dev.loupe.engine.SharedData;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Tiny configurations that together cover every architectural option. */
public final class TestModels {
    private TestModels() {}

    public static Map<String, ModelConfig> all(String dtype) {
        Map<String, ModelConfig> m = new LinkedHashMap<>();
        ModelConfig.Builder base = ModelConfig.builder()
                .dModel(8)
                .nLayers(2)
                .nHeads(2)
                .dHead(4)
                .dMlp(12)
                .dVocab(11)
                .nCtx(16)
                .dtype(dtype);
        m.put("gpt2-like", base.build());
        m.put(
                "llama-like",
                base.normalization(Normalization.RMS_NORM)
                        .positional(Positional.ROTARY)
                        .nHeads(4)
                        .nKvHeads(2)
                        .dHead(4)
                        .activation(Activation.SILU_GATED)
                        .biases(Biases.none())
                        .build());
        m.put(
                "neox-like",
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(2)
                        .nHeads(2)
                        .dHead(4)
                        .dMlp(12)
                        .dVocab(11)
                        .nCtx(16)
                        .dtype(dtype)
                        .positional(Positional.ROTARY)
                        .rotaryDim(2)
                        .parallelAttnMlp(true)
                        .activation(Activation.GELU)
                        .build());
        m.put(
                "attn-only",
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(2)
                        .nHeads(2)
                        .dHead(4)
                        .dVocab(11)
                        .nCtx(16)
                        .dtype(dtype)
                        .attnOnly(true)
                        .normalization(Normalization.NONE)
                        .tiedEmbeddings(true)
                        .useAttnResult(true)
                        .build());
        m.put(
                "geglu-relu-mix",
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(1)
                        .nHeads(2)
                        .dHead(3)
                        .dMlp(6)
                        .dVocab(11)
                        .nCtx(16)
                        .dtype(dtype)
                        .activation(Activation.GELU_GATED)
                        .normalization(Normalization.LAYER_NORM)
                        .biases(new Biases(true, false, true, false, false))
                        .build());
        m.put(
                "relu",
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(1)
                        .nHeads(2)
                        .dHead(4)
                        .dMlp(6)
                        .dVocab(11)
                        .nCtx(16)
                        .dtype(dtype)
                        .activation(Activation.RELU)
                        .build());
        // Every Gemma 2 option, sized so that each one matters on the 5-token test batches: a window
        // of 2 on layer 0 (layer 1 global), caps near the size of the scores and logits.
        m.put(
                "gemma2-like",
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(2)
                        .nHeads(4)
                        .nKvHeads(2)
                        .dHead(4)
                        .dMlp(12)
                        .dVocab(11)
                        .nCtx(16)
                        .dtype(dtype)
                        .normalization(Normalization.RMS_NORM)
                        .normEps(1e-6)
                        .useNormalizationBeforeAndAfter(true)
                        .positional(Positional.ROTARY)
                        .activation(Activation.GELU_GATED)
                        .biases(Biases.none())
                        .tiedEmbeddings(true)
                        .embedScale(Math.sqrt(8))
                        .attnScale(3)
                        .attnScoresSoftCap(0.3)
                        .outputLogitsSoftCap(0.8)
                        .windowSize(2)
                        .localAttnLayers(0)
                        .build());
        // Llama 3 rotary scaling with d_head 8: of the 4 frequencies one stays, one is blended and two are divided.
        m.put(
                "llama3-rope",
                ModelConfig.builder()
                        .dModel(8)
                        .nLayers(1)
                        .nHeads(2)
                        .dHead(8)
                        .dMlp(12)
                        .dVocab(11)
                        .nCtx(16)
                        .dtype(dtype)
                        .normalization(Normalization.RMS_NORM)
                        .positional(Positional.ROTARY)
                        .ropeScaling(new ModelConfig.RopeScaling(8, 1, 8, 256))
                        .activation(Activation.SILU_GATED)
                        .biases(new Biases(true, false, false, false, false))
                        .build());
        // The families added with transformers' goldens, each at its smallest: per-head q/k norms (Qwen 3);
        // Gemma 1 (one key/value head, GeGLU, scaled embedding); Gemma 3 (q/k norms, norms before and after,
        // a local rotary base); Phi-3 (half the head rotated, a window on every layer); OLMo 2 (norms after the
        // sublayers only, q/k norms over all heads).
        ModelConfig.Builder small = ModelConfig.builder()
                .dModel(8)
                .nLayers(2)
                .nHeads(4)
                .nKvHeads(2)
                .dHead(4)
                .dMlp(12)
                .dVocab(11)
                .nCtx(16)
                .dtype(dtype)
                .normalization(Normalization.RMS_NORM)
                .positional(Positional.ROTARY)
                .activation(Activation.SILU_GATED)
                .biases(Biases.none());
        m.put("qwen3-like", small.qkNorm(ModelConfig.QkNorm.PER_HEAD).build());
        m.put(
                "gemma-like",
                small.qkNorm(ModelConfig.QkNorm.NONE)
                        .nKvHeads(1)
                        .activation(Activation.GELU_GATED)
                        .tiedEmbeddings(true)
                        .embedScale(Math.sqrt(8))
                        .build());
        m.put(
                "gemma3-like",
                small.nKvHeads(2)
                        .qkNorm(ModelConfig.QkNorm.PER_HEAD)
                        .useNormalizationBeforeAndAfter(true)
                        .attnScale(3)
                        .rotaryBase(1_000_000)
                        .rotaryBaseLocal(10)
                        .windowSize(2)
                        .localAttnLayers(0)
                        .build());
        m.put(
                "phi3-like",
                small.qkNorm(ModelConfig.QkNorm.NONE)
                        .useNormalizationBeforeAndAfter(false)
                        .activation(Activation.SILU_GATED)
                        .tiedEmbeddings(false)
                        .embedScale(1)
                        .attnScale(2)
                        .rotaryBase(10000)
                        .rotaryBaseLocal(10000)
                        .rotaryDim(2)
                        .windowSize(3)
                        .localAttnLayers(0, 1)
                        .build());
        m.put(
                "olmo2-like",
                small.rotaryDim(4)
                        .windowSize(0)
                        .localAttnLayers(List.of())
                        .qkNorm(ModelConfig.QkNorm.ALL_HEADS)
                        .useNormalizationAfterOnly(true)
                        .build());
        return m;
    }

    /** A model whose every parameter (norm weights and biases too) is random. */
    public static HookedTransformer model(ModelConfig cfg, long seed) {
        return new HookedTransformer(cfg, Weights.random(cfg, seed, true));
    }

    /**
     * A tiny random model with GPT-2's vocabulary (d_model 8, two layers of two heads), saved in
     * {@code dir} with GPT-2's tokenizer files ({@code vocab.json}, {@code merges.txt} from
     * ../shared) beside it; the test is skipped without them. Returns the saved model.
     */
    public static HookedTransformer savedWithGpt2Tokenizer(Path dir) throws IOException {
        Path gpt2 = SharedData.require("tokenizers/gpt2");
        ModelConfig cfg = ModelConfig.builder()
                .dModel(8)
                .nLayers(2)
                .nHeads(2)
                .dVocab(50257)
                .nCtx(32)
                .build();
        HookedTransformer model = HookedTransformer.random(cfg, 3);
        Checkpoint.save(model, dir);
        Files.copy(gpt2.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(gpt2.resolve("merges.txt"), dir.resolve("merges.txt"));
        return model;
    }
}
