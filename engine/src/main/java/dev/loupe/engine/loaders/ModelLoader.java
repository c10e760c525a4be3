package dev.loupe.engine.loaders;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads a model from a path, whatever its format: a Loupe checkpoint folder, a Hugging Face model
 * folder ({@code config.json} with a {@code model_type}), or a llama.c {@code .bin} checkpoint.
 */
public final class ModelLoader {
    private ModelLoader() {
    }

    public static HookedTransformer load(String pathOrId) {
        if (pathOrId == null || pathOrId.isBlank()) throw new LoupeException("model path is empty");
        Path path = Path.of(pathOrId);
        if (Files.isDirectory(path)) {
            if (Checkpoint.isCheckpoint(path)) return Checkpoint.load(path);
            if (HuggingFaceModel.isHuggingFaceFolder(path)) return HuggingFaceModel.load(path);
            throw new LoupeException(pathOrId + ": neither a Loupe checkpoint nor a Hugging Face model folder (no "
                    + Checkpoint.CONFIG + " with \"format\": \"" + Checkpoint.FORMAT + "\" or a \"model_type\")");
        }
        if (Files.isRegularFile(path) && pathOrId.endsWith(".bin"))
            // LLAMA2C: the merge wires Llama2cCheckpoint.load(path) here.
            throw new LoupeException(pathOrId + ": llama2.c loading not available");
        if (Files.exists(path))
            throw new LoupeException(pathOrId + ": not a model folder or a llama2.c .bin checkpoint");
        throw new LoupeException(pathOrId + ": no such file or folder (Hub ids are not downloaded: pass a local folder)");
    }
}
