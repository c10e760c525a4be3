package dev.loupe.probes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A probe on disk: a folder with {@code probe.json} (format, version, kind, hook, d, classes,
 * parameters, metrics) and {@code probe.safetensors} ({@code W} [d, k] and {@code b} [k] float32,
 * plus the kind's extra tensors: {@code mean}/{@code scale} [d] of a standardised probe,
 * {@code direction} [d] of a mass-mean or CCS probe). Both are written atomically, the tensors first,
 * so a folder with a probe.json is complete. See docs/probes.md.
 */
public final class ProbeFolder {
    public static final String JSON_FILE = "probe.json", TENSORS_FILE = "probe.safetensors", FORMAT = "loupe-probe";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = Json.mapper();

    private ProbeFolder() {}

    public static void save(LinearProbe.State s, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LoupeException("cannot create probe folder " + dir + ": " + e.getMessage(), e);
        }
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        tensors.put("W", s.w().castTo(DataType.FLOAT));
        tensors.put("b", s.b().castTo(DataType.FLOAT));
        s.extras().forEach((k, v) -> tensors.put(k, v.castTo(DataType.FLOAT)));
        SafetensorsWriter.write(dir.resolve(TENSORS_FILE), tensors, Map.of("format", FORMAT));
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", VERSION);
        root.put("kind", s.kind());
        if (s.hook() == null) root.putNull("hook");
        else root.put("hook", s.hook());
        root.put("d", s.d());
        if (s.classes() == null) root.putNull("classes");
        else {
            ArrayNode c = root.putArray("classes");
            for (int v : s.classes()) c.add(v);
        }
        root.put("outputs", s.w().size(1));
        root.set("params", JSON.valueToTree(s.params()));
        ObjectNode m = root.putObject("metrics");
        s.metrics().forEach((k, v) -> {
            if (Double.isFinite(v)) m.put(k, v);
            else m.putNull(k);
        });
        byte[] bytes;
        try {
            bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
        } catch (IOException e) {
            throw new LoupeException("cannot encode " + dir.resolve(JSON_FILE) + ": " + e.getMessage(), e);
        }
        AtomicFileWriter.write(dir.resolve(JSON_FILE), ch -> ch.write(ByteBuffer.wrap(bytes)));
    }

    /** Reads and checks a probe folder; every mismatch is a LoupeException naming the file and what was expected. */
    public static Probe load(Path dir) {
        LinearProbe.State s = read(dir);
        return switch (s.kind()) {
            case LogisticProbe.KIND -> new LogisticProbe(s);
            case RidgeProbe.KIND -> new RidgeProbe(s);
            case MassMeanProbe.KIND -> new MassMeanProbe(s);
            case CcsProbe.KIND -> new CcsProbe(s);
            default -> throw new IllegalStateException(s.kind());
        };
    }

    static LinearProbe.State read(Path dir) {
        Path jsonFile = dir.resolve(JSON_FILE), tensorFile = dir.resolve(TENSORS_FILE);
        if (!Files.isDirectory(dir)) throw new LoupeException(dir + ": no such probe folder");
        if (!Files.isRegularFile(jsonFile))
            throw new LoupeException(dir + ": not a probe folder (no " + JSON_FILE + ")");
        JsonNode root;
        try {
            root = JSON.readTree(jsonFile.toFile());
        } catch (IOException e) {
            throw new LoupeException(
                    jsonFile + ": not valid JSON: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
        if (root == null || !FORMAT.equals(root.path("format").asText()))
            throw new LoupeException(jsonFile + ": \"format\" must be \"" + FORMAT + "\"");
        if (root.path("version").asInt(-1) != VERSION)
            throw new LoupeException(jsonFile + ": probe format version " + root.path("version")
                    + " is not supported (expected " + VERSION + ")");
        String kind = root.path("kind").asText();
        if (!java.util.List.of(LogisticProbe.KIND, RidgeProbe.KIND, MassMeanProbe.KIND, CcsProbe.KIND)
                .contains(kind))
            throw new LoupeException(
                    jsonFile + ": unknown probe kind \"" + kind + "\" (expected logistic, ridge, mass-mean or ccs)");
        JsonNode dNode = root.path("d");
        if (!dNode.canConvertToInt() || dNode.asInt() < 1)
            throw new LoupeException(jsonFile + ": \"d\" must be a positive integer, got " + dNode);
        int d = dNode.asInt();
        int[] classes = null;
        JsonNode cNode = root.path("classes");
        if (cNode.isArray()) {
            classes = new int[cNode.size()];
            for (int i = 0; i < classes.length; i++) {
                if (!cNode.get(i).canConvertToInt())
                    throw new LoupeException(jsonFile + ": \"classes\" must be integers, got " + cNode.get(i));
                classes[i] = cNode.get(i).asInt();
            }
            int[] sorted = classes.clone();
            Arrays.sort(sorted);
            if (classes.length < 2
                    || !Arrays.equals(sorted, classes)
                    || Arrays.stream(classes).distinct().count() != classes.length)
                throw new LoupeException(jsonFile
                        + ": \"classes\" must be at least two distinct labels in increasing order, got " + cNode);
        } else if (!kind.equals(RidgeProbe.KIND))
            throw new LoupeException(jsonFile + ": a " + kind + " probe needs \"classes\"");
        int outputs = classes != null ? classes.length : root.path("outputs").asInt(1);
        Map<String, Object> params = new LinkedHashMap<>();
        JsonNode p = root.path("params");
        if (p.isObject()) params.putAll(JSON.convertValue(p, Map.class));
        Map<String, Double> metrics = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.path("metrics").fields(); it.hasNext(); ) {
            var e = it.next();
            metrics.put(e.getKey(), e.getValue().isNumber() ? e.getValue().asDouble() : Double.NaN);
        }
        String hook = root.path("hook").isTextual() ? root.path("hook").asText() : null;
        if (!Files.isRegularFile(tensorFile)) throw new LoupeException(dir + ": probe folder without " + TENSORS_FILE);
        Map<String, INDArray> extras = new LinkedHashMap<>();
        INDArray w, b;
        try (SafetensorsReader r = SafetensorsReader.open(tensorFile)) {
            w = tensor(r, "W", new long[] {d, outputs}, jsonFile);
            b = tensor(r, "b", new long[] {outputs}, jsonFile);
            for (String name : r.names()) {
                if (name.equals("W") || name.equals("b")) continue;
                extras.put(name, tensor(r, name, new long[] {d}, jsonFile));
            }
        }
        return new LinearProbe.State(kind, hook, d, classes, w, b, extras, params, metrics);
    }

    private static INDArray tensor(SafetensorsReader r, String name, long[] shape, Path json) {
        if (!r.contains(name))
            throw new LoupeException(r.file() + ": no tensor \"" + name + "\"; a probe needs W [d, k] and b [k]");
        long[] actual = r.info(name).shape();
        if (!Arrays.equals(actual, shape))
            throw new LoupeException(r.file() + ": tensor \"" + name + "\" has shape " + Arrays.toString(actual)
                    + "; expected " + Arrays.toString(shape) + " (from " + json.getFileName() + ": d and classes)");
        INDArray a = r.readFloat(name);
        if (a.isNaN().any() || a.isInfinite().any())
            throw new LoupeException(r.file() + ": tensor \"" + name + "\" has NaN or infinite values");
        return a;
    }
}
