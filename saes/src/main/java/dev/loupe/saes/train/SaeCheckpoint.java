package dev.loupe.saes.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Folders;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.saes.io.SaeJson;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A run's resumable state in {@code <out>/checkpoints/step-NNNNNNN/}: {@code trainer.json} (format, step,
 * the training config and every SAE spec, each SAE's scaling factor and extra state, the history so far)
 * and per SAE {@code <name>.safetensors} with its parameters, Adam's moments ({@code adam.m}, {@code adam.v})
 * and the latent statistics. The folder is written under a temporary name and renamed into place only
 * when every file is on disk, so a process killed while saving leaves the previous checkpoint as the
 * newest. The two newest are kept.
 */
final class SaeCheckpoint {
    static final String DIR = "checkpoints", STATE = "trainer.json", FORMAT = "loupe-sae-training";
    static final int VERSION = 1, KEEP = 2;
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");

    /** What {@code trainer.json} holds besides the tensors. */
    record State(
            int step,
            JsonNode config,
            JsonNode specs,
            List<Double> scalingFactors,
            List<Integer> adamSteps,
            List<Long> rowsSeen,
            List<Map<String, Double>> extra,
            List<Map<String, Double>> history) {}

    private SaeCheckpoint() {}

    static Path save(
            Path out,
            int step,
            JsonNode config,
            JsonNode specs,
            List<SaeLearner> parts,
            List<Map<String, Double>> history) {
        Path root = out.resolve(DIR);
        Path done = root.resolve(String.format("step-%07d", step));
        Path temp = root.resolve("." + done.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            Files.createDirectories(temp);
            ObjectNode json = SaeJson.MAPPER.createObjectNode();
            json.put("format", FORMAT);
            json.put("version", VERSION);
            json.put("step", step);
            json.set("config", config);
            json.set("specs", specs);
            ArrayNode saes = json.putArray("saes");
            for (SaeLearner part : parts) {
                String name = part.sae().spec().name();
                Map<String, INDArray> t = new LinkedHashMap<>();
                part.sae().params().views().forEach((k, v) -> t.put("param." + k, v));
                t.put("adam.m", part.adam().m());
                t.put("adam.v", part.adam().v());
                t.put("stats.since_fired", Nd4j.createFromArray(part.stats().sinceFired()));
                t.put("stats.fired", Nd4j.createFromArray(part.stats().firedCounts()));
                SafetensorsWriter.write(temp.resolve(name + ".safetensors"), t, Map.of("format", FORMAT));
                ObjectNode s = saes.addObject();
                s.put("name", name);
                s.put("scaling_factor", part.scalingFactor());
                s.put("adam_steps", part.adam().stepCount());
                s.put("rows_seen", part.stats().rowsSeen());
                s.set("extra", SaeJson.MAPPER.valueToTree(part.sae().extraState()));
            }
            json.set("history", SaeJson.MAPPER.valueToTree(history));
            byte[] bytes = SaeJson.MAPPER.writeValueAsBytes(json);
            AtomicFileWriter.write(temp.resolve(STATE), ch -> ch.write(ByteBuffer.wrap(bytes)));
            AtomicFileWriter.syncDirectory(temp);
            if (Files.exists(done)) Folders.deleteTree(done);
            Files.move(temp, done, StandardCopyOption.ATOMIC_MOVE);
            AtomicFileWriter.syncDirectory(root);
        } catch (IOException | RuntimeException e) {
            Folders.deleteTree(temp);
            String previous = latest(out)
                    .map(p -> "; the previous checkpoint " + p + " is intact")
                    .orElse("");
            throw new LoupeException(
                    "could not save the checkpoint of step " + step + " in " + root + ": " + e.getMessage() + previous,
                    e);
        }
        prune(root);
        return done;
    }

    /** The newest complete checkpoint under {@code out}. */
    static Optional<Path> latest(Path out) {
        Path root = out.resolve(DIR);
        if (!Files.isDirectory(root)) return Optional.empty();
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve(STATE)))
                    .max(Comparator.comparingInt(SaeCheckpoint::stepOf));
        } catch (IOException e) {
            throw new LoupeException(root + ": cannot list checkpoints: " + e.getMessage(), e);
        }
    }

    static State readState(Path dir) {
        Path file = dir.resolve(STATE);
        try {
            JsonNode json = SaeJson.MAPPER.readTree(file.toFile());
            if (!FORMAT.equals(json.path("format").asText())
                    || json.path("version").asInt() != VERSION)
                throw new LoupeException(file + ": not a " + FORMAT + " version " + VERSION + " file");
            List<Double> scaling = new ArrayList<>();
            List<Integer> adam = new ArrayList<>();
            List<Map<String, Double>> extra = new ArrayList<>();
            List<Long> rows = new ArrayList<>();
            for (JsonNode s : json.path("saes")) {
                scaling.add(s.path("scaling_factor").asDouble());
                adam.add(s.path("adam_steps").asInt());
                rows.add(s.path("rows_seen").asLong());
                Map<String, Double> e = new LinkedHashMap<>();
                s.path("extra")
                        .fields()
                        .forEachRemaining(f -> e.put(f.getKey(), f.getValue().asDouble()));
                extra.add(e);
            }
            List<Map<String, Double>> history = new ArrayList<>();
            for (JsonNode row : json.path("history")) {
                Map<String, Double> r = new LinkedHashMap<>();
                row.fields()
                        .forEachRemaining(f -> r.put(
                                f.getKey(),
                                f.getValue().isNumber() ? f.getValue().asDouble() : Double.NaN));
                history.add(r);
            }
            return new State(
                    json.path("step").asInt(),
                    json.path("config"),
                    json.path("specs"),
                    scaling,
                    adam,
                    rows,
                    extra,
                    history);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read the training state: " + e.getMessage(), e);
        }
    }

    /** Loads one SAE's tensors from {@code dir} into its parameters, Adam and statistics. */
    static void restore(Path dir, SaeLearner part, int adamSteps, long rowsSeen) {
        Path file = dir.resolve(part.sae().spec().name() + ".safetensors");
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (var e : part.sae().params().views().entrySet()) {
                INDArray saved = r.read("param." + e.getKey());
                if (!java.util.Arrays.equals(saved.shape(), e.getValue().shape()))
                    throw new LoupeException(file + ": tensor 'param." + e.getKey() + "' has shape "
                            + java.util.Arrays.toString(saved.shape()) + ", expected "
                            + java.util.Arrays.toString(e.getValue().shape()));
                e.getValue().assign(saved);
            }
            part.adam().restore(r.read("adam.m"), r.read("adam.v"), adamSteps);
            part.stats()
                    .restore(
                            r.read("stats.since_fired").castTo(DataType.DOUBLE).toDoubleVector(),
                            r.read("stats.fired").castTo(DataType.DOUBLE).toDoubleVector(),
                            rowsSeen);
        }
    }

    private static int stepOf(Path dir) {
        Matcher m = STEP_DIR.matcher(dir.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static void prune(Path root) {
        try (Stream<Path> s = Files.list(root)) {
            List<Path> all = new ArrayList<>(
                    s.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                            .filter(p -> Files.isRegularFile(p.resolve(STATE)))
                            .toList());
            all.sort(Comparator.comparingInt(SaeCheckpoint::stepOf).reversed());
            for (int i = KEEP; i < all.size(); i++) Folders.deleteTree(all.get(i));
        } catch (IOException ignored) {
            // pruning is housekeeping; the checkpoint itself is saved
        }
        try (Stream<Path> s = Files.list(root)) {
            s.filter(p -> p.getFileName().toString().endsWith(".tmp")).forEach(Folders::deleteTree);
        } catch (IOException ignored) {
            // leftovers of interrupted saves are never read
        }
    }
}
