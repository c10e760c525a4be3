package dev.loupe.engine.zoo;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.Folders;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import tech.tablesaw.api.ColumnType;
import tech.tablesaw.api.Table;
import tech.tablesaw.io.csv.CsvReadOptions;

/**
 * The models shipped inside Loupe (no download, no internet): small transformers trained by Loupe.
 * <ul>
 *   <li>{@code attn-only-2l}: 2-layer attention-only, trained on repeated random tokens: previous-token
 *       heads in layer 0, induction heads in layer 1;</li>
 *   <li>{@code modadd-1l}: 1 layer, trained on {@code (a + b) mod 113};</li>
 *   <li>{@code shakespeare-char}: a GPT-2-style 4-layer character model of char-rnn's tinyshakespeare,
 *       with its tokenizer ({@link #tokenizer}).</li>
 * </ul>
 * Each is a Loupe checkpoint with a model card ({@link #card}) and its training history ({@link #history}).
 */
public final class Zoo {
    public static final List<String> NAMES = List.of("attn-only-2l", "modadd-1l", ZooRecipe.SHAKESPEARE_CHAR);
    private static final List<String> FILES =
            List.of(Checkpoint.CONFIG, Checkpoint.WEIGHTS, ModelCard.FILE, "history.csv");
    /** The models whose tokens are text, with the tokenizer file they ship. */
    private static final Map<String, String> TOKENIZERS = Map.of(ZooRecipe.SHAKESPEARE_CHAR, CharTokenizer.FILE);

    private Zoo() {}

    /** Loads an embedded model by name. */
    public static HookedTransformer load(String name) {
        Path dir = extract(name);
        try {
            return Checkpoint.load(dir);
        } finally {
            Folders.deleteTree(dir);
        }
    }

    /** An embedded model's config, without its weights. */
    public static ModelConfig config(String name) {
        Path dir = extract(name, List.of(Checkpoint.CONFIG));
        try {
            return Checkpoint.readConfig(dir);
        } finally {
            Folders.deleteTree(dir);
        }
    }

    /** True for the embedded models whose tokens are text ({@link #tokenizer} gives their tokenizer). */
    public static boolean hasTokenizer(String name) {
        check(name);
        return TOKENIZERS.containsKey(name);
    }

    /**
     * The tokenizer of an embedded text model ({@code shakespeare-char}); the other models' tokens are
     * plain ids and have none.
     */
    public static Tokenizer tokenizer(String name) {
        check(name);
        String file = TOKENIZERS.get(name);
        if (file == null)
            throw new LoupeException("the embedded model " + name + " has no tokenizer: its tokens are plain ids ("
                    + String.join(", ", TOKENIZERS.keySet()) + " has one)");
        Path dir = extract(name, List.of(file));
        try {
            return Tokenizers.load(dir);
        } finally {
            Folders.deleteTree(dir);
        }
    }

    /**
     * Copies an embedded model's files (config, weights, tokenizer, card, history) into {@code dir}:
     * a model folder that {@code Checkpoint.load} and {@code Tokenizers.load} read.
     */
    public static void copyTo(String name, Path dir) {
        check(name);
        try {
            Files.createDirectories(dir);
            for (String f : files(name)) {
                try (InputStream in = open(name, f)) {
                    Files.copy(in, dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new LoupeException(
                    "cannot copy the embedded model " + name + " to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The model card (Markdown): task, config, training command and final metrics. */
    public static String card(String name) {
        return text(name, ModelCard.FILE);
    }

    /**
     * The training history: one row per step (step, lr, loss, grad_norm) and the evaluation metrics,
     * missing on the steps without an evaluation.
     */
    public static Table history(String name) {
        CsvReadOptions options = CsvReadOptions.builder(new StringReader(text(name, "history.csv")))
                .tableName(name + " training history")
                .columnTypesToDetect(List.of(ColumnType.DOUBLE))
                .build();
        return Table.read().usingOptions(options);
    }

    /**
     * The recipe the embedded model was trained with. {@code shakespeare-char}'s reads its corpus:
     * {@code ZooRecipe.text(TextTask.load(corpus, "char", ZooRecipe.TEXT_SEQ_LEN))}.
     */
    public static ZooRecipe recipe(String name) {
        check(name);
        if (TOKENIZERS.containsKey(name))
            throw new LoupeException(name + "'s recipe reads its corpus: use ZooRecipe.text(TextTask.load(corpus, "
                    + "\"char\", ZooRecipe.TEXT_SEQ_LEN)) (the training command is in Zoo.card(\"" + name + "\"))");
        return ZooRecipe.all().stream()
                .filter(r -> r.model().equals(name))
                .findFirst()
                .orElseThrow();
    }

    private static void check(String name) {
        if (!NAMES.contains(name))
            throw new LoupeException("no embedded model named '" + name + "'; the zoo has " + String.join(", ", NAMES));
    }

    private static String text(String name, String file) {
        check(name);
        try (InputStream in = open(name, file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static InputStream open(String name, String file) {
        String resource = "/dev/loupe/zoo/" + name + "/" + file;
        InputStream in = Zoo.class.getResourceAsStream(resource);
        if (in == null)
            throw new LoupeException("the embedded model " + name + " lacks " + resource + " (a broken build?)");
        return in;
    }

    /** Copies the checkpoint out of the jar into a temporary folder (the loader memory-maps files). */
    private static Path extract(String name) {
        return extract(name, FILES);
    }

    private static List<String> files(String name) {
        List<String> files = new java.util.ArrayList<>(FILES);
        if (TOKENIZERS.containsKey(name)) files.add(TOKENIZERS.get(name));
        return files;
    }

    private static Path extract(String name, List<String> files) {
        check(name);
        try {
            Path dir = Files.createTempDirectory("loupe-zoo-" + name);
            for (String f : files) {
                try (InputStream in = open(name, f)) {
                    Files.copy(in, dir.resolve(f));
                }
            }
            return dir;
        } catch (IOException e) {
            throw new LoupeException("cannot extract the embedded model " + name + ": " + e.getMessage(), e);
        }
    }
}
