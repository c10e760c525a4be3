package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.model.Weights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.ops.transforms.Transforms;

class ModelLoaderTest {
    @TempDir
    Path tmp;

    /** Every option the Hugging Face families added to ModelConfig, on at once. */
    static ModelConfig gemmaLike() {
        return ModelConfig.builder()
                .dModel(8)
                .nLayers(3)
                .nHeads(2)
                .nKvHeads(1)
                .dHead(4)
                .dMlp(12)
                .dVocab(13)
                .nCtx(16)
                .normalization(ModelConfig.Normalization.RMS_NORM)
                .useNormalizationBeforeAndAfter(true)
                .positional(ModelConfig.Positional.ROTARY)
                .ropeScaling(new ModelConfig.RopeScaling(4, 1, 4, 32))
                .activation(ModelConfig.Activation.GELU_GATED)
                .biases(ModelConfig.Biases.none())
                .tiedEmbeddings(true)
                .embedScale(Math.sqrt(8))
                .attnScale(3)
                .attnScoresSoftCap(2)
                .outputLogitsSoftCap(4)
                .windowSize(2)
                .localAttnLayers(0, 2)
                .build();
    }

    @Test
    void dispatchesOnWhatThePathHolds() throws IOException {
        Path hf = HfFixtures.folder("gemma2_bf16");
        assertTrue(HuggingFaceModel.isHuggingFaceFolder(hf));
        assertFalse(Checkpoint.isCheckpoint(hf));
        HookedTransformer viaLoader = ModelLoader.load(hf.toString());
        assertTrue(HfFixtures.maxLogitDiff(viaLoader, hf) <= HuggingFaceModelTest.TOL);

        HookedTransformer m = new HookedTransformer(gemmaLike(), Weights.random(gemmaLike(), 3, true));
        Path ckpt = tmp.resolve("ckpt");
        Checkpoint.save(m, ckpt);
        HookedTransformer back = ModelLoader.load(ckpt.toString());
        assertEquals(m.config(), back.config());
        Tokens t = Tokens.of(new int[] {1, 2, 3, 4, 5, 6, 7});
        assertEquals(0, Transforms.abs(m.run(t).sub(back.run(t))).maxNumber().doubleValue(), 0);
    }

    @Test
    void checkpointsWrittenBeforeTheNewConfigKeysStillLoad() throws IOException {
        ModelConfig old = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dVocab(11)
                .nCtx(8)
                .build();
        HookedTransformer m = HookedTransformer.random(old, 1);
        Path ckpt = tmp.resolve("old");
        Checkpoint.save(m, ckpt);
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode) json.readTree(ckpt.resolve("config.json").toFile());
        ObjectNode c = (ObjectNode) root.get("config");
        for (String k : List.of(
                "use_normalization_before_and_after",
                "rope_scaling",
                "embed_scale",
                "attn_scale",
                "attn_scores_soft_cap",
                "output_logits_soft_cap",
                "window_size",
                "local_attn_layers")) assertTrue(c.remove(k) != null, k);
        json.writeValue(ckpt.resolve("config.json").toFile(), root);
        assertEquals(old, ModelLoader.load(ckpt.toString()).config());
    }

    @Test
    void badPaths() throws IOException {
        LoupeException e = assertThrows(
                LoupeException.class, () -> ModelLoader.load(tmp.resolve("nope").toString()));
        assertTrue(e.getMessage().contains("no such file or folder"), e.getMessage());
        assertThrows(LoupeException.class, () -> ModelLoader.load(" "));
        Path bin = Files.write(tmp.resolve("stories.bin"), new byte[] {1, 2, 3});
        e = assertThrows(LoupeException.class, () -> ModelLoader.load(bin.toString()));
        assertTrue(e.getMessage().contains("too short for a llama2.c checkpoint"), e.getMessage());
        Path other = Files.write(tmp.resolve("weights.pt"), new byte[] {1});
        assertThrows(LoupeException.class, () -> ModelLoader.load(other.toString()));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        e = assertThrows(LoupeException.class, () -> ModelLoader.load(empty.toString()));
        assertTrue(
                e.getMessage().contains("neither a Loupe checkpoint nor a Hugging Face model folder"), e.getMessage());
        Files.writeString(empty.resolve("config.json"), "{\"d_model\": 3}");
        assertThrows(LoupeException.class, () -> ModelLoader.load(empty.toString()));
    }
}
