package dev.loupe.engine.hub;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Where the Hugging Face cache lives, which Hub to talk to and how, read from the same environment
 * variables as huggingface_hub so that Loupe and Python share one cache.
 *
 * <p>The environment is an explicit map ({@link #fromEnvironment(Map)}) rather than
 * {@link System#getenv()} read deep inside, so tests and embedding applications can point Loupe at
 * a temporary cache or a local server without touching the process environment.
 *
 * <p>{@link #toString()} never shows the token; nothing in this package logs it or puts it in an
 * exception message.
 *
 * @param cacheRoot the hub cache folder (holds {@code models--org--name/})
 * @param endpoint the Hub base URL, without a trailing slash
 * @param token the access token sent as {@code Authorization: Bearer}, if any
 * @param tokenSource where the token came from ({@code "HF_TOKEN"}, a token file...), for messages
 * @param offline use the cache only, never the network
 * @param progressBars whether downloads may draw a progress bar (on a terminal)
 * @param metadataTimeout connect timeout and limit for metadata (HEAD) requests
 * @param downloadTimeout limit for a download's response headers and for any stall in its body
 */
public record HubSettings(
        Path cacheRoot,
        URI endpoint,
        Optional<String> token,
        String tokenSource,
        boolean offline,
        boolean progressBars,
        Duration metadataTimeout,
        Duration downloadTimeout) {

    /** The public Hub. */
    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");
    /** huggingface_hub's defaults for HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private static final Set<String> TRUE_VALUES = Set.of("1", "ON", "YES", "TRUE");

    public HubSettings {
        Objects.requireNonNull(cacheRoot, "cacheRoot");
        endpoint = checkEndpoint(Objects.requireNonNull(endpoint, "endpoint").toString(), "endpoint");
        Objects.requireNonNull(token, "token");
        tokenSource = token.isPresent() ? Objects.requireNonNullElse(tokenSource, "settings") : "none";
        if (token.isPresent() && !token.get().chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            // The value itself is never shown.
            throw new LoupeException("the token from " + tokenSource + " contains characters that cannot be sent"
                    + " in an HTTP header (only printable ASCII without spaces is allowed)");
        }
        checkPositive(metadataTimeout, "metadataTimeout");
        checkPositive(downloadTimeout, "downloadTimeout");
    }

    /** Settings from the process environment. */
    public static HubSettings fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * Settings from {@code env} (empty values count as unset):
     * <ul>
     *   <li>cache: {@code HF_HUB_CACHE}, else {@code HUGGINGFACE_HUB_CACHE} (legacy), else
     *       {@code $HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub}, else
     *       {@code ~/.cache/huggingface/hub}; a leading {@code ~} is the home folder
     *       ({@code HOME}, else the {@code user.home} property);
     *   <li>endpoint: {@code HF_ENDPOINT}, else {@code https://huggingface.co};
     *   <li>token: {@code HF_TOKEN}, else {@code HUGGING_FACE_HUB_TOKEN} (legacy), else the file
     *       {@code huggingface-cli login} writes ({@code HF_TOKEN_PATH}, else {@code $HF_HOME/token});
     *   <li>{@code HF_HUB_OFFLINE}: 1/ON/YES/TRUE (any case) means offline;
     *   <li>{@code HF_HUB_DISABLE_PROGRESS_BARS}: same values turn progress bars off;
     *   <li>{@code HF_HUB_ETAG_TIMEOUT}, {@code HF_HUB_DOWNLOAD_TIMEOUT}: seconds, default 10.
     * </ul>
     *
     * @throws LoupeException naming the variable if a value is malformed
     */
    public static HubSettings fromEnvironment(Map<String, String> env) {
        Objects.requireNonNull(env, "env");
        Path home = path(env, "HOME", get(env, "HOME"), null);
        if (home == null) {
            home = Path.of(System.getProperty("user.home"));
        }
        Path xdgCache = path(env, "XDG_CACHE_HOME", get(env, "XDG_CACHE_HOME"), home);
        Path hfHome = path(env, "HF_HOME", get(env, "HF_HOME"), home);
        if (hfHome == null) {
            hfHome = (xdgCache != null ? xdgCache : home.resolve(".cache")).resolve("huggingface");
        }
        Path cache = path(env, "HF_HUB_CACHE", get(env, "HF_HUB_CACHE"), home);
        if (cache == null) {
            cache = path(env, "HUGGINGFACE_HUB_CACHE", get(env, "HUGGINGFACE_HUB_CACHE"), home);
        }
        if (cache == null) {
            cache = hfHome.resolve("hub");
        }

        String endpointText = get(env, "HF_ENDPOINT");
        URI endpoint = endpointText == null ? DEFAULT_ENDPOINT : checkEndpoint(endpointText, "HF_ENDPOINT");

        Optional<String> token = Optional.empty();
        String tokenSource = "none";
        for (String name : new String[] {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
            String value = get(env, name);
            if (value != null && !value.isBlank()) {
                token = Optional.of(value.strip());
                tokenSource = name;
                break;
            }
        }
        if (token.isEmpty()) {
            Path tokenFile = path(env, "HF_TOKEN_PATH", get(env, "HF_TOKEN_PATH"), home);
            if (tokenFile == null) {
                tokenFile = hfHome.resolve("token");
            }
            token = readTokenFile(tokenFile);
            if (token.isPresent()) {
                tokenSource = "token file " + tokenFile;
            }
        }

        return new HubSettings(
                cache,
                endpoint,
                token,
                tokenSource,
                flag(env, "HF_HUB_OFFLINE"),
                !flag(env, "HF_HUB_DISABLE_PROGRESS_BARS"),
                seconds(env, "HF_HUB_ETAG_TIMEOUT"),
                seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT"));
    }

    /** Settings for {@code endpoint} and {@code cacheRoot} with no token, online, no progress bars. */
    public static HubSettings of(Path cacheRoot, URI endpoint) {
        return new HubSettings(
                cacheRoot, endpoint, Optional.empty(), "none", false, false, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT);
    }

    public HubSettings withOffline(boolean value) {
        return new HubSettings(
                cacheRoot, endpoint, token, tokenSource, value, progressBars, metadataTimeout, downloadTimeout);
    }

    public HubSettings withProgressBars(boolean value) {
        return new HubSettings(
                cacheRoot, endpoint, token, tokenSource, offline, value, metadataTimeout, downloadTimeout);
    }

    /** These settings with {@code value} as token (null for none). */
    public HubSettings withToken(String value) {
        Optional<String> t = value == null || value.isBlank() ? Optional.empty() : Optional.of(value.strip());
        return new HubSettings(
                cacheRoot, endpoint, t, "settings", offline, progressBars, metadataTimeout, downloadTimeout);
    }

    public HubSettings withTimeouts(Duration metadata, Duration download) {
        return new HubSettings(cacheRoot, endpoint, token, tokenSource, offline, progressBars, metadata, download);
    }

    /** The cache these settings point at. */
    public HubCache cache() {
        return new HubCache(cacheRoot);
    }

    /** Like the record's, but the token is shown only as present or absent. */
    @Override
    public String toString() {
        return "HubSettings[cacheRoot=" + cacheRoot + ", endpoint=" + endpoint
                + ", token=" + (token.isPresent() ? "<set, from " + tokenSource + ">" : "<none>")
                + ", offline=" + offline + ", progressBars=" + progressBars
                + ", metadataTimeout=" + metadataTimeout + ", downloadTimeout=" + downloadTimeout + "]";
    }

    private static String get(Map<String, String> env, String name) {
        String v = env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    /** {@code value} as a path, with a leading {@code ~} expanded like Python's expanduser. */
    private static Path path(Map<String, String> env, String name, String value, Path home) {
        if (value == null) {
            return null;
        }
        try {
            if (home != null && (value.equals("~") || value.startsWith("~/"))) {
                return value.length() == 1 ? home : home.resolve(value.substring(2));
            }
            return Path.of(value);
        } catch (InvalidPathException e) {
            throw new LoupeException(name + ": '" + value + "' is not a valid path: " + e.getMessage(), e);
        }
    }

    private static boolean flag(Map<String, String> env, String name) {
        String v = get(env, name);
        return v != null && TRUE_VALUES.contains(v.strip().toUpperCase(Locale.ROOT));
    }

    private static Duration seconds(Map<String, String> env, String name) {
        String v = get(env, name);
        if (v == null) {
            return DEFAULT_TIMEOUT;
        }
        try {
            double s = Double.parseDouble(v.strip());
            if (s > 0 && s <= 1e6) {
                return Duration.ofMillis(Math.max(1, Math.round(s * 1000)));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new LoupeException(name + ": expected a positive number of seconds, got '" + v + "'");
    }

    private static URI checkEndpoint(String text, String name) {
        String trimmed = text.strip();
        while (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        URI uri;
        try {
            uri = URI.create(trimmed);
        } catch (IllegalArgumentException e) {
            throw new LoupeException(name + ": '" + text + "' is not a valid URL: " + e.getMessage(), e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https"))
                || uri.getHost() == null
                || uri.getRawQuery() != null
                || uri.getRawFragment() != null
                || uri.getRawUserInfo() != null) {
            throw new LoupeException(name + ": expected an http(s) URL like https://huggingface.co"
                    + " (no user info, query or fragment), got '" + text + "'");
        }
        return uri;
    }

    private static void checkPositive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new LoupeException("HubSettings." + name + ": expected a positive duration, got " + d);
        }
    }

    private static Optional<String> readTokenFile(Path file) {
        try {
            if (!Files.isRegularFile(file)) {
                return Optional.empty();
            }
            String t = Files.readString(file, StandardCharsets.UTF_8).strip();
            return t.isEmpty() ? Optional.empty() : Optional.of(t);
        } catch (IOException | RuntimeException e) {
            // An unreadable token file means no token, as in huggingface_hub; a 401 will say so.
            return Optional.empty();
        }
    }
}
