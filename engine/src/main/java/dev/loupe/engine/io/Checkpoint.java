package dev.loupe.engine.io;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Loupe's own checkpoint: a folder with {@code config.json} (the {@link ModelConfig}, snake_case
 * keys) and {@code model.safetensors} holding every weight under its TransformerLens name and in
 * TransformerLens's shapes, so Python reads it with {@code safetensors.torch.load_file} and the tensors
 * line up with a TransformerLens state dict (TransformerLens names grouped-query keys/values
 * {@code _W_K}/{@code _W_V} and always has every bias, so load with renaming or {@code strict=False}).
 * Both files are written atomically; save then load is bit-exact.
 */
public final class Checkpoint {
    public static final String CONFIG = "config.json", WEIGHTS = "model.safetensors", FORMAT = "loupe-checkpoint";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = Json.fileFormat();

    /**
     * The config keys the first checkpoints already had: a file without one is damaged. A key added
     * to {@link ModelConfig} since is absent from older files, which then take the field's declared
     * default (it leaves the architecture as it was: no soft-cap, no window, attn_scale sqrt(d_head)...).
     */
    private static final List<String> KEYS_SINCE_VERSION_1 = List.of(
            "d_model",
            "n_layers",
            "n_heads",
            "n_kv_heads",
            "d_head",
            "d_mlp",
            "d_vocab",
            "n_ctx",
            "normalization",
            "norm_eps",
            "positional",
            "rotary_dim",
            "rotary_base",
            "activation",
            "attn_only",
            "parallel_attn_mlp",
            "tied_embeddings",
            "biases",
            "use_attn_result",
            "dtype");

    private Checkpoint() {}

    /** True when the folder holds a Loupe checkpoint (as opposed to, say, a Hugging Face folder). */
    public static boolean isCheckpoint(Path dir) {
        Path cfg = dir.resolve(CONFIG);
        if (!Files.isRegularFile(cfg)) return false;
        try {
            return FORMAT.equals(JSON.readTree(cfg.toFile()).path("format").asText());
        } catch (IOException e) {
            return false;
        }
    }

    public static void save(HookedTransformer model, Path dir) {
        try {
            Files.createDirectories(dir);
            ObjectNode root = JSON.createObjectNode();
            root.put("format", FORMAT);
            root.put("version", VERSION);
            root.set("config", JSON.valueToTree(model.config()));
            byte[] json = JSON.writeValueAsBytes(root);
            SafetensorsWriter.write(dir.resolve(WEIGHTS), model.stateDict(), Map.of("format", FORMAT));
            AtomicFileWriter.write(dir.resolve(CONFIG), ch -> ch.write(ByteBuffer.wrap(json)));
        } catch (IOException e) {
            throw new LoupeException("cannot save checkpoint to " + dir + ": " + e.getMessage(), e);
        }
    }

    public static ModelConfig readConfig(Path dir) {
        Path file = dir.resolve(CONFIG);
        if (!Files.isRegularFile(file))
            throw new LoupeException(dir + ": not a Loupe checkpoint folder (no " + CONFIG + ")");
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LoupeException(
                    file + ": not valid JSON: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
        if (!FORMAT.equals(root.path("format").asText()))
            throw new LoupeException(file + ": \"format\" must be \"" + FORMAT + "\"");
        JsonNode version = root.path("version");
        if (!version.isIntegralNumber() || version.asLong() != VERSION)
            throw new LoupeException(file + ": checkpoint version " + (version.isMissingNode() ? "(missing)" : version)
                    + " is not supported (expected " + VERSION + ")");
        JsonNode config = root.path("config");
        if (!config.isObject())
            throw new LoupeException(
                    file + ": \"config\" must be an object, found " + (config.isMissingNode() ? "nothing" : config));
        for (String key : KEYS_SINCE_VERSION_1)
            if (!config.has(key))
                throw new LoupeException(
                        file + ": invalid config: missing key \"" + key + "\" (every checkpoint has it)");
        try {
            return JSON.treeToValue(config, ModelConfig.class);
        } catch (IOException e) {
            Throwable cause = e.getCause() instanceof LoupeException le ? le : e;
            // Jackson's messages for a wrongly typed value name the Java type, not the key: add the key.
            String at = e instanceof JsonMappingException m && !m.getPath().isEmpty()
                    ? " at \""
                            + m.getPath().stream()
                                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                                    .collect(Collectors.joining("."))
                            + "\""
                    : "";
            throw new LoupeException(
                    file + ": invalid config" + at + ": "
                            + cause.getMessage().lines().findFirst().orElse(""),
                    e);
        }
    }

    /**
     * Loads a checkpoint. Tensors are read one at a time; the attention projections are re-laid
     * out once from TransformerLens's shapes into the compute layout (see {@link Weights}).
     */
    public static HookedTransformer load(Path dir) {
        ModelConfig cfg = readConfig(dir);
        Path file = dir.resolve(WEIGHTS);
        Map<String, long[]> expected = Weights.expectedShapes(cfg);
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            for (String name : reader.names()) {
                if (!expected.containsKey(name))
                    throw new LoupeException(file + ": unexpected tensor '" + name + "' for this config");
                INDArray stored = reader.read(name);
                long[] want = Weights.transformerLensShape(name, expected.get(name), cfg);
                if (!java.util.Arrays.equals(stored.shape(), want))
                    throw new LoupeException(
                            file + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(stored.shape())
                                    + ", expected " + java.util.Arrays.toString(want));
                if (stored.dataType() != Weights.dataType(cfg))
                    throw new LoupeException(
                            file + ": tensor '" + name + "' is " + stored.dataType() + ", config says " + cfg.dtype());
                tensors.put(name, Weights.fromTransformerLensLayout(name, stored, cfg));
            }
        }
        Weights weights = new Weights(tensors);
        weights.validate(cfg, file.toString());
        return new HookedTransformer(cfg, weights);
    }
}
