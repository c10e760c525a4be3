package dev.loupe.engine.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.Folders;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.engine.model.HookedTransformer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A training run's resumable state in {@code <out>/checkpoints/step-NNNNNNN/}: the model (a Loupe
 * checkpoint: {@code config.json} + {@code model.safetensors}), AdamW's moments
 * ({@code optimizer.safetensors}) and {@code training.json} (step, training config, task, loss
 * history so far).
 *
 * <p>A checkpoint folder is written under a temporary name and renamed into place only when every
 * file in it is on disk, so a crash or a full disk while saving leaves the previous checkpoint as
 * the latest valid one. The two newest are kept.
 */
public final class TrainingCheckpoint {
    static final String DIR = "checkpoints",
            OPTIMIZER = "optimizer.safetensors",
            TRAINING = "training.json",
            FORMAT = "loupe-training";
    static final int VERSION = 1, KEEP = 2;
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
    static final ObjectMapper JSON = Json.fileFormat();

    /** What a checkpoint holds besides the weights and moments. */
    public record State(int step, String task, TrainingConfig config, List<Map<String, Double>> history) {}

    private TrainingCheckpoint() {}

    /** Writes step {@code state.step()}'s checkpoint under {@code out}; returns its folder. */
    public static Path save(Path out, HookedTransformer model, AdamW optimizer, State state) {
        return save(out, model, optimizer, state, dir -> {});
    }

    /**
     * As {@link #save(Path, HookedTransformer, AdamW, State)}, with {@code modelFiles} writing
     * what the model needs beside its weights (a tokenizer) into the checkpoint folder.
     */
    public static Path save(
            Path out,
            HookedTransformer model,
            AdamW optimizer,
            State state,
            java.util.function.Consumer<Path> modelFiles) {
        Path root = out.resolve(DIR);
        Path done = root.resolve(String.format("step-%07d", state.step()));
        Path temp = root.resolve("." + done.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            Files.createDirectories(root);
            Checkpoint.save(model, temp);
            modelFiles.accept(temp);
            SafetensorsWriter.write(temp.resolve(OPTIMIZER), optimizer.state(), Map.of("format", FORMAT));
            ObjectNode json = JSON.createObjectNode();
            json.put("format", FORMAT);
            json.put("version", VERSION);
            json.put("step", state.step());
            json.put("task", state.task());
            json.set("training_config", JSON.valueToTree(state.config()));
            json.set("history", JSON.valueToTree(state.history()));
            byte[] bytes = JSON.writeValueAsBytes(json);
            AtomicFileWriter.write(temp.resolve(TRAINING), ch -> ch.write(ByteBuffer.wrap(bytes)));
            if (Files.exists(done)) Folders.deleteTree(done);
            Files.move(temp, done, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            AtomicFileWriter.syncDirectory(root);
        } catch (IOException | RuntimeException e) {
            Folders.deleteTree(temp);
            String previous = latest(out)
                    .map(p -> "; the previous checkpoint " + p + " is intact")
                    .orElse("");
            throw new LoupeException(
                    "could not save the checkpoint of step " + state.step() + " in " + root + ": " + e.getMessage()
                            + previous,
                    e);
        }
        prune(root);
        return done;
    }

    /** The newest complete checkpoint folder under {@code out}, if any. */
    public static Optional<Path> latest(Path out) {
        Path root = out.resolve(DIR);
        if (!Files.isDirectory(root)) return Optional.empty();
        return complete(root).stream().max(Comparator.comparingInt(TrainingCheckpoint::stepOf));
    }

    /** Reads a checkpoint folder's state; names the file and what is wrong when it is not one. */
    public static State readState(Path dir) {
        Path file = dir.resolve(TRAINING);
        try {
            JsonNode json = JSON.readTree(file.toFile());
            if (!FORMAT.equals(json.path("format").asText())
                    || json.path("version").asInt() != VERSION)
                throw new LoupeException(file + ": not a " + FORMAT + " version " + VERSION + " file");
            TrainingConfig config = JSON.treeToValue(json.path("training_config"), TrainingConfig.class);
            List<Map<String, Double>> history = new ArrayList<>();
            for (JsonNode row : json.path("history")) {
                Map<String, Double> r = new LinkedHashMap<>();
                row.fields()
                        .forEachRemaining(f -> r.put(
                                f.getKey(),
                                f.getValue().isNumber() ? f.getValue().asDouble() : Double.NaN));
                history.add(r);
            }
            return new State(json.path("step").asInt(), json.path("task").asText(), config, history);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read training state: " + e.getMessage(), e);
        }
    }

    /** Reads the saved AdamW moments into {@code optimizer}. */
    public static void loadOptimizer(Path dir, AdamW optimizer, int step) {
        Path file = dir.resolve(OPTIMIZER);
        Map<String, INDArray> state = new LinkedHashMap<>();
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            for (String name : reader.names()) state.put(name, reader.read(name));
        }
        try {
            optimizer.restore(state, step);
        } catch (IllegalArgumentException e) {
            throw new LoupeException(file + ": " + e.getMessage() + " (a checkpoint of another model?)", e);
        }
    }

    private static List<Path> complete(Path root) {
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve(TRAINING)))
                    .toList();
        } catch (IOException e) {
            throw new LoupeException(root + ": cannot list checkpoints: " + e.getMessage(), e);
        }
    }

    private static int stepOf(Path dir) {
        Matcher m = STEP_DIR.matcher(dir.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Keeps the newest {@link #KEEP} checkpoints and deletes leftovers of interrupted saves. */
    private static void prune(Path root) {
        List<Path> all = new ArrayList<>(complete(root));
        all.sort(Comparator.comparingInt(TrainingCheckpoint::stepOf).reversed());
        for (int i = KEEP; i < all.size(); i++) Folders.deleteTree(all.get(i));
        try (Stream<Path> s = Files.list(root)) {
            s.filter(p -> p.getFileName().toString().endsWith(".tmp")).forEach(Folders::deleteTree);
        } catch (IOException ignored) {
            // leftovers are harmless: they are never read
        }
    }
}
