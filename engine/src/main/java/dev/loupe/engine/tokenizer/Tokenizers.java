package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a tokenizer from whatever files a model folder holds. */
public final class Tokenizers {
    public static final String TOKENIZER_JSON = "tokenizer.json", TOKENIZER_BIN = "tokenizer.bin";

    private Tokenizers() {}

    /**
     * Loads from a folder — its {@code tokenizer.json} if present, else {@code vocab.json} +
     * {@code merges.txt}, else {@code tokenizer.bin} — or from a file: a {@code tokenizer.json}
     * (any {@code .json} file that is a JSON object with a "model" key), a {@code vocab.json}
     * (with {@code merges.txt} beside it), a {@code merges.txt} (with {@code vocab.json} beside it)
     * or a llama2.c {@code .bin}.
     */
    public static Tokenizer load(Path path) {
        if (path == null) throw new LoupeException("tokenizer path is null");
        if (Files.isDirectory(path)) {
            Path file = find(path);
            if (file == null)
                throw new LoupeException(path + ": no tokenizer found (looked for " + TOKENIZER_JSON + ", "
                        + Gpt2Files.VOCAB + " + " + Gpt2Files.MERGES + ", " + TOKENIZER_BIN + ")");
            return load(file);
        }
        if (!Files.isRegularFile(path)) throw new LoupeException(path + ": no such file or folder");
        String name = path.getFileName().toString();
        if (name.endsWith(".bin")) return Llama2cTokenizer.load(path);
        if (name.equals(Gpt2Files.MERGES) || name.endsWith(".txt")) {
            Path vocab = sibling(path, Gpt2Files.VOCAB);
            return Gpt2Files.load(vocab, path);
        }
        if (name.endsWith(".json")) {
            if (name.equals(TOKENIZER_JSON) || isTokenizerJson(path)) return TokenizerJson.load(path);
            return Gpt2Files.load(path, sibling(path, Gpt2Files.MERGES));
        }
        throw new LoupeException(
                path + ": not a tokenizer file I know (expected tokenizer.json, vocab.json, merges.txt "
                        + "or a llama2.c tokenizer .bin)");
    }

    /**
     * The file {@link #load} reads from a folder: its {@code tokenizer.json}, else {@code vocab.json}
     * (when {@code merges.txt} is beside it), else {@code tokenizer.bin}; null when it has none.
     */
    public static Path find(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) return null;
        Path json = dir.resolve(TOKENIZER_JSON), vocab = dir.resolve(Gpt2Files.VOCAB), bin = dir.resolve(TOKENIZER_BIN);
        if (Files.isRegularFile(json)) return json;
        if (Files.isRegularFile(vocab) && Files.isRegularFile(dir.resolve(Gpt2Files.MERGES))) return vocab;
        if (Files.isRegularFile(bin)) return bin;
        return null;
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
