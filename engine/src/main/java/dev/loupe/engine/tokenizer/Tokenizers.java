package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Loads a tokenizer from whatever files a model folder holds. */
public final class Tokenizers {
    public static final String TOKENIZER_JSON = "tokenizer.json", TOKENIZER_BIN = "tokenizer.bin";

    private Tokenizers() {}

    /**
     * Loads from a folder — its {@code tokenizer.json} if present, else {@code vocab.json} +
     * {@code merges.txt}, else {@code tokenizer.bin}, else {@code char_tokenizer.json} — or from a
     * file: a {@code tokenizer.json} (any {@code .json} file that is a JSON object with a "model"
     * key), a {@code char_tokenizer.json} ({@link CharTokenizer}), a {@code vocab.json} (with
     * {@code merges.txt} beside it), a {@code merges.txt} (with {@code vocab.json} beside it) or a
     * llama2.c {@code .bin}.
     */
    public static Tokenizer load(Path path) {
        if (path == null) throw new LoupeException("tokenizer path is null");
        if (Files.isDirectory(path)) {
            List<Path> files = filesIn(path);
            if (files.isEmpty())
                throw new LoupeException(path + ": no tokenizer found (looked for " + TOKENIZER_JSON + ", "
                        + Gpt2Files.VOCAB + " + " + Gpt2Files.MERGES + ", " + TOKENIZER_BIN + ", "
                        + CharTokenizer.FILE + ")");
            return load(files.get(0));
        }
        if (!Files.isRegularFile(path)) throw new LoupeException(path + ": no such file or folder");
        String name = path.getFileName().toString();
        if (name.endsWith(".bin")) return Llama2cTokenizer.load(path);
        if (name.equals(Gpt2Files.MERGES) || name.endsWith(".txt")) {
            Path vocab = sibling(path, Gpt2Files.VOCAB);
            return Gpt2Files.load(vocab, path);
        }
        if (name.endsWith(".json")) {
            if (name.equals(CharTokenizer.FILE) || CharTokenizer.isCharTokenizerFile(path))
                return CharTokenizer.load(path);
            if (name.equals(TOKENIZER_JSON) || isTokenizerJson(path)) return TokenizerJson.load(path);
            return Gpt2Files.load(path, sibling(path, Gpt2Files.MERGES));
        }
        throw new LoupeException(
                path + ": not a tokenizer file I know (expected tokenizer.json, vocab.json, merges.txt, "
                        + CharTokenizer.FILE + " or a llama2.c tokenizer .bin)");
    }

    /** True when {@link #load} finds a tokenizer in the folder {@code dir}. */
    public static boolean hasTokenizer(Path dir) {
        return Files.isDirectory(dir) && !filesIn(dir).isEmpty();
    }

    /**
     * Copies the files {@link #load} reads for {@code path} (and a {@code tokenizer_config.json}
     * beside them) into {@code dir}, each atomically, so that {@code load(dir)} gives the same
     * tokenizer.
     */
    public static void copy(Path path, Path dir) {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(path)) files.addAll(filesIn(path));
        else {
            load(path); // refuses what is not a tokenizer
            files.add(path);
            String name = path.getFileName().toString();
            Path parent = path.toAbsolutePath().getParent();
            if (name.equals(Gpt2Files.MERGES) || name.endsWith(".txt")) files.add(parent.resolve(Gpt2Files.VOCAB));
            else if (name.endsWith(".json") && !isTokenizerJson(path) && !CharTokenizer.isCharTokenizerFile(path))
                files.add(parent.resolve(Gpt2Files.MERGES));
        }
        Path config = files.get(0).toAbsolutePath().getParent().resolve(TokenizerConfig.FILE);
        if (Files.isRegularFile(config) && !files.contains(config)) files.add(config);
        try {
            Files.createDirectories(dir);
            for (Path f : files) {
                // The usual names, so that load(dir) finds them whatever they were called.
                String target = f.getFileName().toString();
                if (target.endsWith(".bin")) target = TOKENIZER_BIN;
                else if (CharTokenizer.isCharTokenizerFile(f)) target = CharTokenizer.FILE;
                else if (target.endsWith(".json") && isTokenizerJson(f)) target = TOKENIZER_JSON;
                byte[] bytes = Files.readAllBytes(f);
                AtomicFileWriter.write(dir.resolve(target), ch -> ch.write(ByteBuffer.wrap(bytes)));
            }
        } catch (IOException e) {
            throw new LoupeException("cannot copy the tokenizer " + path + " to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The files of the tokenizer in a folder, the one {@link #load} reads first; empty when there is none. */
    private static List<Path> filesIn(Path dir) {
        Path json = dir.resolve(TOKENIZER_JSON);
        if (Files.isRegularFile(json)) return List.of(json);
        Path vocab = dir.resolve(Gpt2Files.VOCAB), merges = dir.resolve(Gpt2Files.MERGES);
        if (Files.isRegularFile(vocab) && Files.isRegularFile(merges)) return List.of(vocab, merges);
        Path bin = dir.resolve(TOKENIZER_BIN);
        if (Files.isRegularFile(bin)) return List.of(bin);
        Path chars = dir.resolve(CharTokenizer.FILE);
        if (Files.isRegularFile(chars)) return List.of(chars);
        return List.of();
    }

    /**
     * The file {@link #load} reads from a folder: its {@code tokenizer.json}, else {@code vocab.json}
     * (when {@code merges.txt} is beside it), else {@code tokenizer.bin}, else {@code char_tokenizer.json};
     * null when it has none.
     */
    public static Path find(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) return null;
        List<Path> files = filesIn(dir);
        return files.isEmpty() ? null : files.get(0);
    }

    private static Path sibling(Path file, String name) {
        Path dir = file.toAbsolutePath().getParent();
        Path s = dir.resolve(name);
        if (!Files.isRegularFile(s))
            throw new LoupeException(file + ": needs " + name + " beside it, and " + s + " does not exist");
        return s;
    }

    /** A tokenizer.json is an object with a "model"; a vocab.json maps tokens to ids. */
    private static boolean isTokenizerJson(Path file) {
        JsonFile json = JsonFile.read(file);
        return json.root.isObject()
                && json.root.get("model") != null
                && json.root.get("model").isObject();
    }
}
