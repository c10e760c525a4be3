package dev.loupe.engine.hub;

import dev.loupe.engine.LoupeException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Turns what a user types after {@code fromPretrained(...)} into a local folder: an existing path
 * is used as it is, anything else is a Hugging Face repo id ({@code gpt2},
 * {@code EleutherAI/pythia-70m}, optionally {@code @revision}) resolved through the cache and, if
 * needed, downloaded — the same precedence as transformers' {@code from_pretrained}.
 */
public final class Pretrained {

    private Pretrained() {}

    /** {@link #resolve(String, Map)} with the process environment. */
    public static Path resolve(String nameOrPath) {
        return resolve(nameOrPath, System.getenv());
    }

    /** {@link #resolve(String, HubClient)} with a client configured from {@code env} (see {@link HubSettings#fromEnvironment(Map)}). */
    public static Path resolve(String nameOrPath, Map<String, String> env) {
        Path local = existingPath(nameOrPath);
        if (local != null) {
            return local;
        }
        return resolve(nameOrPath, HubClient.fromEnvironment(env));
    }

    /**
     * The local folder (or file) for {@code nameOrPath}: the path itself if it exists, else the
     * snapshot folder of the repository, from the cache or downloaded by {@code client}
     * ({@link HubClient#download(RepoRef)}).
     *
     * @throws LoupeException if it is neither an existing path nor a valid repo id, or the
     *     repository cannot be found, fetched or (offline) found in the cache
     */
    public static Path resolve(String nameOrPath, HubClient client) {
        Objects.requireNonNull(client, "client");
        if (nameOrPath == null || nameOrPath.isBlank()) {
            throw new LoupeException("model: expected a local path or a Hugging Face repo id like 'gpt2', got "
                    + (nameOrPath == null ? "null" : "'" + nameOrPath + "'"));
        }
        Path local = existingPath(nameOrPath);
        if (local != null) {
            return local;
        }
        if (looksLikePath(nameOrPath)) {
            throw new LoupeException("model '" + nameOrPath + "': no such file or folder, and it is not a Hugging Face"
                    + " repo id (those look like 'gpt2' or 'org/name', optionally '@revision')");
        }
        return client.download(RepoRef.parse(nameOrPath));
    }

    private static Path existingPath(String nameOrPath) {
        if (nameOrPath == null || nameOrPath.isBlank()) {
            return null;
        }
        try {
            Path p = Path.of(nameOrPath);
            return Files.exists(p) ? p : null;
        } catch (InvalidPathException e) {
            return null;
        }
    }

    /** Spellings that can only be meant as paths: absolute, relative to '.', '~' or with a separator a repo id cannot have. */
    private static boolean looksLikePath(String s) {
        return s.startsWith("/")
                || s.startsWith(".")
                || s.startsWith("~")
                || s.contains("\\")
                || s.indexOf('/') != s.lastIndexOf('/')
                || s.endsWith(".safetensors")
                || s.endsWith(".json")
                || (s.length() >= 2 && s.charAt(1) == ':' && Character.isLetter(s.charAt(0)));
    }
}
