package dev.loupe.engine.loaders;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.io.SafetensorsDType;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The weights of a Hugging Face model folder: {@code model.safetensors}, or the shards that
 * {@code model.safetensors.index.json} lists in its {@code weight_map}. Every file is opened (and
 * its header validated) up front, so a missing shard or a broken header fails before any tensor is
 * read; tensors are then read one at a time.
 */
final class SafetensorsFolder implements AutoCloseable {
    static final String SINGLE = "model.safetensors", INDEX = "model.safetensors.index.json";
    private static final ObjectMapper JSON = Json.strict();

    private final Path dir;
    private final List<SafetensorsReader> readers = new ArrayList<>();
    private final Map<String, SafetensorsReader> byTensor = new LinkedHashMap<>();

    private SafetensorsFolder(Path dir) {
        this.dir = dir;
    }

    static SafetensorsFolder open(Path dir) {
        SafetensorsFolder f = new SafetensorsFolder(dir);
        try {
            Path index = dir.resolve(INDEX), single = dir.resolve(SINGLE);
            if (Files.isRegularFile(index)) f.openShards(index);
            else if (Files.isRegularFile(single)) f.add(SafetensorsReader.open(single));
            else
                throw new LoupeException(dir + ": no " + SINGLE + " or " + INDEX + " (Loupe reads safetensors weights; "
                        + "pytorch_model.bin is not supported: convert it with the safetensors library)");
            return f;
        } catch (RuntimeException | Error e) {
            f.close();
            throw e;
        }
    }

    private void openShards(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(index));
        } catch (JsonProcessingException e) {
            throw new LoupeException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new LoupeException(index + ": cannot read: " + e, e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty())
            throw new LoupeException(
                    index + ": \"weight_map\" must be a non-empty object mapping tensor names to shard files");
        Map<String, String> shardOf = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual())
                throw new LoupeException(
                        index + ": weight_map[\"" + e.getKey() + "\"] must be a file name, found " + e.getValue());
            shardOf.put(e.getKey(), e.getValue().asText());
        }
        Map<String, SafetensorsReader> shards = new LinkedHashMap<>();
        for (String shard : new java.util.LinkedHashSet<>(shardOf.values())) {
            if (shard.isEmpty()
                    || shard.equals(".")
                    || shard.equals("..")
                    || shard.contains("/")
                    || shard.contains("\\"))
                throw new LoupeException(index + ": shard \"" + shard + "\" must be a file name in the same folder");
            Path file = dir.resolve(shard);
            if (!Files.isRegularFile(file))
                throw new LoupeException(
                        index + ": shard \"" + shard + "\" is listed in weight_map but " + file + " does not exist");
            SafetensorsReader r = SafetensorsReader.open(file);
            add(r);
            shards.put(shard, r);
        }
        shardOf.forEach((tensor, shard) -> {
            if (!shards.get(shard).contains(tensor))
                throw new LoupeException(
                        index + ": weight_map puts \"" + tensor + "\" in " + shard + ", which has no such tensor");
        });
    }

    private void add(SafetensorsReader r) {
        readers.add(r);
        for (String name : r.names()) {
            SafetensorsReader before = byTensor.putIfAbsent(name, r);
            if (before != null)
                throw new LoupeException(dir + ": tensor \"" + name + "\" is in both "
                        + before.file().getFileName() + " and " + r.file().getFileName());
        }
    }

    Set<String> names() {
        return byTensor.keySet();
    }

    boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /** The file a tensor lives in, for error messages. */
    Path fileOf(String name) {
        SafetensorsReader r = byTensor.get(name);
        return r == null ? dir : r.file();
    }

    TensorInfo info(String name) {
        return reader(name).info(name);
    }

    /** A floating-point tensor (F32, F16, BF16 or F64) as a new float32 array. */
    INDArray readFloat(String name) {
        SafetensorsReader r = reader(name);
        SafetensorsDType t = r.info(name).dtype();
        if (t != SafetensorsDType.F32
                && t != SafetensorsDType.F16
                && t != SafetensorsDType.BF16
                && t != SafetensorsDType.F64)
            throw new LoupeException(
                    r.file() + ": tensor \"" + name + "\" is " + t + "; weights must be F32, F16, BF16 or F64");
        return r.readFloat(name);
    }

    private SafetensorsReader reader(String name) {
        SafetensorsReader r = byTensor.get(name);
        if (r == null) throw new LoupeException(dir + ": no tensor named \"" + name + "\"");
        return r;
    }

    @Override
    public void close() {
        for (SafetensorsReader r : readers) r.close();
    }
}
