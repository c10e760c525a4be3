package dev.loupe.engine.loaders;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hub.Pretrained;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.zoo.Zoo;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads a model from a path, whatever its format: a Loupe checkpoint folder, a Hugging Face model
 * folder ({@code config.json} with a {@code model_type}), a llama2.c {@code .bin} checkpoint, or a
 * name from the embedded zoo ({@code attn-only-2l}, {@code modadd-1l}; see {@link Zoo}), or a Hugging Face
 * model id resolved through the local cache (downloading what is missing).
 */
public final class ModelLoader {
    private ModelLoader() {}

    /**
     * The model, with the tokenizer found beside it attached (its folder's {@code tokenizer.json},
     * {@code vocab.json} + {@code merges.txt} or {@code tokenizer.bin}; loaded when first used).
     */
    public static HookedTransformer load(String pathOrId) {
        if (pathOrId == null || pathOrId.isBlank()) throw new LoupeException("model path is empty");
        Path path = Path.of(pathOrId);
        if (Files.isDirectory(path)) {
            if (Checkpoint.isCheckpoint(path)) return withTokenizer(Checkpoint.load(path), path);
            if (HuggingFaceModel.isHuggingFaceFolder(path)) return withTokenizer(HuggingFaceModel.load(path), path);
            throw new LoupeException(pathOrId + ": neither a Loupe checkpoint nor a Hugging Face model folder (no "
                    + Checkpoint.CONFIG + " with \"format\": \"" + Checkpoint.FORMAT + "\" or a \"model_type\")");
        }
        if (isLlama2c(path))
            return withTokenizer(
                    Llama2cCheckpoint.load(path), path.toAbsolutePath().getParent());
        if (Files.exists(path))
            throw new LoupeException(pathOrId + ": not a model folder or a llama2.c .bin checkpoint");
        if (Zoo.NAMES.contains(pathOrId)) return Zoo.load(pathOrId);
        return fromPretrained(pathOrId);
    }

    /**
     * A model by Hugging Face id ({@code "gpt2"}, {@code "EleutherAI/pythia-70m@main"}): found in the
     * standard cache or downloaded into it (see {@link Pretrained}), then loaded with its tokenizer.
     */
    public static HookedTransformer fromPretrained(String id) {
        Path dir = Pretrained.resolve(id);
        return withTokenizer(HuggingFaceModel.load(dir), dir);
    }

    /** Attaches the tokenizer that {@code dir} holds, if any (TransformerLens loads a model's tokenizer with it). */
    private static HookedTransformer withTokenizer(HookedTransformer model, Path dir) {
        Path file = Tokenizers.find(dir);
        if (file != null) model.setTokenizer(file);
        return model;
    }

    /**
     * Where a model lives on this machine: the path itself when it exists, else the Hugging Face
     * cache snapshot of that id (downloaded when missing).
     */
    public static Path locate(String pathOrId) {
        if (pathOrId == null || pathOrId.isBlank()) throw new LoupeException("model path is empty");
        Path path = Path.of(pathOrId);
        return Files.exists(path) || Zoo.NAMES.contains(pathOrId) ? path : Pretrained.resolve(pathOrId);
    }

    /** The model's config without loading its weights. */
    public static ModelConfig config(String path) {
        Path p = Path.of(path);
        if (!Files.exists(p) && Zoo.NAMES.contains(path)) return Zoo.config(path);
        if (isLlama2c(p)) return Llama2cCheckpoint.readHeader(p).toModelConfig();
        if (Files.isDirectory(p) && HuggingFaceModel.isHuggingFaceFolder(p) && !Checkpoint.isCheckpoint(p))
            return HuggingFaceModel.readConfig(p);
        return Checkpoint.readConfig(p);
    }

    static boolean isLlama2c(Path p) {
        return Files.isRegularFile(p) && p.getFileName().toString().endsWith(".bin");
    }
}
