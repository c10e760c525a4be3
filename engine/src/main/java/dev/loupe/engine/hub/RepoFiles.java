package dev.loupe.engine.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which files of a model repository Loupe needs, and the checks on file names that come from the
 * Hub or from a downloaded index (they become paths in the cache, so none may escape it).
 */
final class RepoFiles {

    static final String CONFIG = "config.json";
    static final String WEIGHTS = "model.safetensors";
    static final String WEIGHTS_INDEX = "model.safetensors.index.json";
    /** Fetched when the repository has them; a 404 means "this repository has none". */
    static final List<String> TOKENIZER =
            List.of("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json");

    private static final ObjectMapper JSON = Json.mapper();

    private RepoFiles() {}

    /**
     * Checks that {@code filename} is a relative path of non-empty, non-dot segments separated by
     * '/', so that resolving it under a snapshot folder stays inside that folder.
     */
    static String checkFilename(String filename, String context) {
        String why = null;
        if (filename == null || filename.isEmpty()) {
            why = "it is empty";
        } else if (filename.length() > 1024) {
            why = "it is longer than 1024 characters";
        } else if (filename.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == '\\' || c == ':')) {
            why = "it contains a control character, '\\\\' or ':'";
        } else {
            for (String segment : filename.split("/", -1)) {
                if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                    why = "it must be a relative path without empty, '.' or '..' parts";
                    break;
                }
            }
        }
        if (why != null) {
            throw new LoupeException(context + ": file name '" + filename + "' is not allowed (" + why + ")");
        }
        return filename;
    }

    /**
     * The distinct shard files named by a {@code model.safetensors.index.json}'s
     * {@code weight_map}, in first-seen order.
     *
     * @throws LoupeException naming {@code index} if it is not such a file
     */
    static List<String> shards(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new LoupeException(index + ": not a readable safetensors index (JSON): " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new LoupeException(index + ": expected a JSON object with a non-empty \"weight_map\""
                    + " object (tensor name -> shard file)");
        }
        Set<String> shards = new LinkedHashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new LoupeException(index + ": weight_map[\"" + e.getKey() + "\"] must be a file name string, got "
                        + e.getValue().getNodeType());
            }
            shards.add(checkFilename(e.getValue().asText(), index + " weight_map[\"" + e.getKey() + "\"]"));
        }
        return new ArrayList<>(shards);
    }
}
