package dev.loupe.engine.hub;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads the files Loupe needs from a Hugging Face model repository into the
 * {@linkplain HubCache standard cache}, the way huggingface_hub does, with the JDK's own
 * {@link HttpClient}.
 *
 * <p><b>Which files.</b> {@code config.json} (required); the weights — {@code model.safetensors},
 * or else {@code model.safetensors.index.json} and every shard in its {@code weight_map}; and,
 * when the repository has them, {@code tokenizer.json}, {@code vocab.json}, {@code merges.txt} and
 * {@code tokenizer_config.json}. A 404 on an optional file means the repository has none; that is
 * remembered in {@code .no_exist/} so it is not asked again. The weights are fetched last, so a
 * snapshot with complete weights also has everything fetched before them.
 *
 * <p><b>Protocol.</b> For each file a {@code HEAD} on
 * {@code {endpoint}/{repo}/resolve/{revision}/{filename}} gives the commit ({@code X-Repo-Commit}),
 * the ETag ({@code X-Linked-Etag} or {@code ETag}) and the size ({@code X-Linked-Size} or
 * {@code Content-Length}); only relative redirects (renamed repositories) are followed, as in
 * huggingface_hub, because an LFS file's metadata is on the redirect to its CDN. After the first
 * file every request names the commit, so one download never mixes two commits. The {@code GET}
 * follows redirects itself and sends the token only to the endpoint's own origin, never to a CDN.
 *
 * <p><b>Resume and verification.</b> Bytes go to {@code blobs/<etag>.incomplete}. A later call
 * asks for the rest with {@code Range: bytes=<partial length>-} (a server that ignores the range
 * and answers 200 gets a fresh start). The finished file must have exactly the advertised size and,
 * when the ETag is a SHA-256 (LFS files), that SHA-256; only then is it renamed, atomically, to
 * {@code blobs/<etag>} and linked into the snapshot. A file that fails its SHA-256 check is deleted
 * (resuming it would keep the bad bytes); a short one is kept to resume. A partial file is never
 * used as a complete one.
 *
 * <p><b>Cache first.</b> {@link #download(RepoRef)} returns a complete cached snapshot without any
 * network access, like {@code from_pretrained} with a warm cache but without asking the Hub
 * whether the branch moved: pin a commit ({@code repo@<hash>}) or delete the ref to update.
 *
 * <p>Every failure is a {@link LoupeException} naming the repository, the file and the URL; the
 * token is never part of any message.
 */
public final class HubClient {

    private static final int MAX_REDIRECTS = 10;
    private static final String USER_AGENT =
            "loupe-engine/0.1; java/" + Runtime.version().feature();
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern SAFE_ETAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._\\-]{0,199}");

    private final HubSettings settings;
    private final HubCache cache;
    private final DownloadProgress progress;
    private final HttpClient http;

    /** A client with a progress bar on standard error when it is a terminal. */
    public HubClient(HubSettings settings) {
        this(settings, DownloadProgress.forTerminal(settings));
    }

    public HubClient(HubSettings settings, DownloadProgress progress) {
        this(settings, settings.cache(), progress);
    }

    HubClient(HubSettings settings, HubCache cache, DownloadProgress progress) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.cache = Objects.requireNonNull(cache, "cache");
        this.progress = Objects.requireNonNull(progress, "progress");
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(settings.metadataTimeout())
                .build();
    }

    /** A client configured from {@code env} (see {@link HubSettings#fromEnvironment(Map)}). */
    public static HubClient fromEnvironment(Map<String, String> env) {
        return new HubClient(HubSettings.fromEnvironment(env));
    }

    public HubSettings settings() {
        return settings;
    }

    public HubCache cache() {
        return cache;
    }

    /** {@link #download(RepoRef)} of {@code repoId} at {@code revision}. */
    public Path download(String repoId, String revision) {
        return download(new RepoRef(repoId, revision));
    }

    /**
     * The snapshot folder of {@code ref} with every file Loupe needs: from the cache if it is
     * complete there (no network), else downloaded (see the class comment).
     *
     * @throws LoupeException in offline mode when the cache lacks it, and for every HTTP, network,
     *     verification or disk failure
     */
    public Path download(RepoRef ref) {
        Optional<Path> cached = cache.snapshot(ref);
        if (cached.isPresent()) {
            return cached.get();
        }
        if (settings.offline()) {
            throw new LoupeException("offline mode (HF_HUB_OFFLINE is set): no complete cached snapshot of '"
                    + ref.repoId() + "' at revision '" + ref.revision() + "' in " + cache.repoDir(ref.repoId())
                    + " (" + cache.missing(ref) + "). Download it once with network access (unset HF_HUB_OFFLINE)"
                    + " or pass the path of a local model folder.");
        }
        FileMetadata config = head(ref, RepoFiles.CONFIG).orElseThrow(() -> notFound(ref, RepoFiles.CONFIG));
        RepoRef pinned = ref.at(config.commit());
        ensure(pinned, RepoFiles.CONFIG, config, true);
        for (String optional : RepoFiles.TOKENIZER) {
            ensure(pinned, optional, null, false);
        }
        Path dir = cache.snapshotDir(ref.repoId(), pinned.revision());
        if (!ensure(pinned, RepoFiles.WEIGHTS, null, false)) {
            if (!ensure(pinned, RepoFiles.WEIGHTS_INDEX, null, false)) {
                throw new LoupeException("repository '" + ref.repoId() + "' at revision '" + ref.revision()
                        + "' (commit " + pinned.revision() + ") has neither " + RepoFiles.WEIGHTS + " nor "
                        + RepoFiles.WEIGHTS_INDEX + " at " + settings.endpoint()
                        + ": Loupe loads safetensors weights only (not pytorch_model.bin)");
            }
            for (String shard : RepoFiles.shards(dir.resolve(RepoFiles.WEIGHTS_INDEX))) {
                ensure(pinned, shard, null, true);
            }
        }
        String missing = cache.missing(pinned);
        if (missing != null) {
            throw new LoupeException("downloaded '" + ref + "' but the snapshot is still incomplete: " + missing);
        }
        // Written last: a ref this client writes always points at a complete snapshot.
        cache.writeRef(ref, pinned.revision());
        return dir;
    }

    /**
     * One file of {@code ref} in the cache, downloaded if needed; for files beyond the standard set
     * (e.g. {@code generation_config.json}).
     *
     * @return its path inside the snapshot folder
     * @throws LoupeException if the repository has no such file, or as {@link #download(RepoRef)}
     */
    public Path downloadFile(RepoRef ref, String filename) {
        RepoFiles.checkFilename(filename, "repository '" + ref.repoId() + "'");
        Optional<String> commit = cache.commitHash(ref.repoId(), ref.revision());
        if (commit.isPresent() && cache.hasFile(ref.repoId(), commit.get(), filename)) {
            return cache.snapshotDir(ref.repoId(), commit.get()).resolve(filename);
        }
        if (settings.offline()) {
            throw new LoupeException("offline mode (HF_HUB_OFFLINE is set): '" + filename + "' of '" + ref.repoId()
                    + "' at revision '" + ref.revision() + "' is not in the cache at " + cache.repoDir(ref.repoId()));
        }
        FileMetadata meta = head(ref, filename).orElseThrow(() -> notFound(ref, filename));
        RepoRef pinned = ref.at(meta.commit());
        ensure(pinned, filename, meta, true);
        cache.writeRef(ref, meta.commit());
        return cache.snapshotDir(ref.repoId(), meta.commit()).resolve(filename);
    }

    /**
     * What the Hub says about {@code filename} of {@code ref} (one {@code HEAD} request).
     *
     * @throws LoupeException if the file does not exist, or the request fails
     */
    public FileMetadata metadata(RepoRef ref, String filename) {
        RepoFiles.checkFilename(filename, "repository '" + ref.repoId() + "'");
        return head(ref, filename).orElseThrow(() -> notFound(ref, filename));
    }

    /** The resolve URL of a file: {@code {endpoint}/{repo}/resolve/{revision}/{filename}}. */
    public URI resolveUrl(RepoRef ref, String filename) {
        return URI.create(settings.endpoint() + "/" + ref.repoId() + "/resolve/" + percentEncode(ref.revision(), false)
                + "/" + percentEncode(filename, true));
    }

    /**
     * Makes {@code filename} present in the snapshot of {@code pinned} (a commit), fetching it if it
     * is not there yet.
     *
     * @param known metadata already fetched for it, or null
     * @return whether the file exists (false only for a missing optional file)
     */
    private boolean ensure(RepoRef pinned, String filename, FileMetadata known, boolean required) {
        String repo = pinned.repoId();
        String commit = pinned.revision();
        if (cache.hasFile(repo, commit, filename)) {
            return true;
        }
        if (!required && cache.isMarkedAbsent(repo, commit, filename)) {
            return false;
        }
        FileMetadata meta = known != null ? known : head(pinned, filename).orElse(null);
        if (meta == null) {
            if (required) {
                throw notFound(pinned, filename);
            }
            cache.markAbsent(repo, commit, filename);
            return false;
        }
        fetchBlob(pinned, filename, meta);
        cache.link(repo, commit, filename, meta.etag());
        return true;
    }

    // ---------------------------------------------------------------- metadata

    /** The file's metadata, or empty if the Hub answers 404 for the file itself. */
    private Optional<FileMetadata> head(RepoRef ref, String filename) {
        URI url = resolveUrl(ref, filename);
        URI current = url;
        for (int hop = 0; ; hop++) {
            HttpRequest request = request(current, settings.metadataTimeout())
                    .method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .header("Accept-Encoding", "identity")
                    .build();
            HttpResponse<Void> response = send(
                    request,
                    HttpResponse.BodyHandlers.discarding(),
                    current,
                    settings.metadataTimeout(),
                    "HF_HUB_ETAG_TIMEOUT");
            int status = response.statusCode();
            if (isRedirect(status)) {
                String location = response.headers().firstValue("Location").orElse(null);
                if (location != null && isRelative(location) && hop < MAX_REDIRECTS) {
                    current = resolveLocation(current, location);
                    continue;
                }
                return Optional.of(metadataFrom(ref, filename, url, response));
            }
            if (status >= 200 && status < 300) {
                return Optional.of(metadataFrom(ref, filename, url, response));
            }
            if (status == 404 && !errorCode(response).matches("RepoNotFound|RevisionNotFound")) {
                return Optional.empty();
            }
            throw httpError(ref, filename, current, response);
        }
    }

    private FileMetadata metadataFrom(RepoRef ref, String filename, URI url, HttpResponse<?> response) {
        String what = "'" + filename + "' of '" + ref.repoId() + "' (" + url + ")";
        String commit = response.headers().firstValue("X-Repo-Commit").orElse(null);
        if (commit == null && ref.isPinned()) {
            commit = ref.revision();
        }
        if (commit == null || !RepoRef.isCommitHash(commit.strip().toLowerCase(Locale.ROOT))) {
            throw new LoupeException("the server did not send a commit hash (X-Repo-Commit) for " + what
                    + (commit == null ? "" : ", it sent '" + printable(commit) + "'")
                    + "; is HF_ENDPOINT (" + settings.endpoint() + ") a Hugging Face Hub?");
        }
        commit = commit.strip().toLowerCase(Locale.ROOT);
        String etag = response.headers()
                .firstValue("X-Linked-Etag")
                .or(() -> response.headers().firstValue("ETag"))
                .map(HubClient::normalizeEtag)
                .orElse(null);
        if (etag == null || !SAFE_ETAG.matcher(etag).matches() || etag.endsWith(".incomplete")) {
            throw new LoupeException("the server sent no usable ETag (X-Linked-Etag or ETag) for " + what
                    + (etag == null ? "" : ", it sent '" + printable(etag) + "'")
                    + "; the cache names files by ETag, so it cannot be stored");
        }
        String sizeText = response.headers()
                .firstValue("X-Linked-Size")
                .or(() -> response.headers().firstValue("Content-Length"))
                .orElse(null);
        long size = -1;
        try {
            size = sizeText == null ? -1 : Long.parseLong(sizeText.strip());
        } catch (NumberFormatException e) {
            // reported below
        }
        if (size < 0) {
            throw new LoupeException("the server sent no valid size (X-Linked-Size or Content-Length) for " + what
                    + (sizeText == null ? "" : ", it sent '" + printable(sizeText) + "'")
                    + "; downloads are checked against it, so it is required");
        }
        return new FileMetadata(commit, etag, size, url);
    }

    /** Strips a weak-validator prefix and quotes: {@code W/"abc"} → {@code abc}. */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e;
    }

    // ---------------------------------------------------------------- download

    /** Makes {@code blobs/<etag>} hold the verified content of the file. */
    private void fetchBlob(RepoRef pinned, String filename, FileMetadata meta) {
        String repo = pinned.repoId();
        Path blob = cache.blob(repo, meta.etag());
        if (hasSize(blob, meta.size())) {
            return;
        }
        HubCache.createDirectories(blob.getParent());
        try (BlobLock lock = BlobLock.acquire(cache.lockFile(repo, meta.etag()))) {
            if (hasSize(blob, meta.size())) {
                return; // another thread or process finished it meanwhile
            }
            deleteIfExists(blob); // wrong size: not a blob this cache can trust
            Path partial = cache.incomplete(repo, meta.etag());
            URI url = resolveUrl(pinned, filename);
            MessageDigest sha = meta.isSha256() ? sha256() : null;
            long have = fill(partial, url, pinned, filename, meta, sha);
            if (have != meta.size()) {
                throw new LoupeException(
                        "download of '" + filename + "' of '" + repo + "' from " + url + " ended after " + have + " of "
                                + meta.size() + " bytes; retry: the download resumes from " + partial);
            }
            if (sha != null) {
                String actual = HexFormat.of().formatHex(sha.digest());
                if (!actual.equalsIgnoreCase(meta.etag())) {
                    deleteIfExists(partial);
                    throw new LoupeException("download of '" + filename + "' of '" + repo + "' from " + url
                            + " is corrupt: its SHA-256 is " + actual + " but the Hub says " + meta.etag()
                            + ". The bad file was deleted; retry to download it again.");
                }
            }
            forceToDisk(partial);
            try {
                Files.move(partial, blob, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new LoupeException(blob + ": could not move the verified download into place: " + e, e);
            }
        }
    }

    /**
     * Appends the rest of the file to {@code partial} (resuming from its length) and returns the
     * final length; {@code sha}, if given, has seen every byte of the file up to that length.
     */
    private long fill(Path partial, URI url, RepoRef pinned, String filename, FileMetadata meta, MessageDigest sha) {
        long size = meta.size();
        long have = fileSize(partial);
        if (have > size) {
            deleteIfExists(partial); // longer than the file: cannot be a prefix of it
            have = 0;
        }
        if (sha != null && have > 0) {
            digestPrefix(partial, have, sha);
        }
        boolean restarted = false;
        while (have < size || !Files.exists(partial)) {
            if (have == size) { // an empty file: nothing to fetch, just create it
                touch(partial);
                break;
            }
            HttpResponse<InputStream> response = get(pinned, filename, url, have);
            int status = response.statusCode();
            if (status == 416) { // the partial file does not fit the file: start over, once
                closeQuietly(response.body());
                if (restarted) {
                    throw new LoupeException("the server at " + url + " refused the range request for '" + filename
                            + "' (HTTP 416) even from byte 0");
                }
                restarted = true;
                deleteIfExists(partial);
                have = 0;
                if (sha != null) {
                    sha.reset();
                }
                continue;
            }
            if (status == 206) {
                String range = response.headers().firstValue("Content-Range").orElse("");
                Matcher m = CONTENT_RANGE.matcher(range.strip());
                if (!m.matches() || Long.parseLong(m.group(1)) != have) {
                    closeQuietly(response.body());
                    throw new LoupeException("the server at " + url + " answered the request for bytes " + have
                            + "- of '" + filename + "' with Content-Range '" + printable(range) + "'");
                }
            } else if (have > 0) { // 200: the server ignored the range and sends everything
                have = 0;
                if (sha != null) {
                    sha.reset();
                }
            }
            have = receive(response, partial, have, size, url, filename, sha);
            break;
        }
        return have;
    }

    /** Streams a response body into {@code partial} from position {@code from}; returns the new length. */
    private long receive(
            HttpResponse<InputStream> response,
            Path partial,
            long from,
            long size,
            URI url,
            String filename,
            MessageDigest sha) {
        long have = from;
        progress.started(filename, size, from);
        boolean complete = false;
        try (FileChannel out = openForWrite(partial, from);
                InputStream in = response.body();
                StallWatchdog watchdog = new StallWatchdog(in, settings.downloadTimeout())) {
            byte[] buffer = new byte[1 << 16];
            while (true) {
                int n;
                try {
                    n = in.read(buffer);
                } catch (IOException e) {
                    throw networkFailure(url, response.uri(), filename, partial, have, size, watchdog.fired(), e);
                }
                if (n < 0) {
                    break;
                }
                watchdog.touch();
                if (have + n > size) {
                    deleteIfExists(partial);
                    throw new LoupeException(
                            "the server at " + url + " sent more than the " + size + " bytes it announced for '"
                                    + filename + "'; the download was deleted, retry to start over");
                }
                write(out, partial, buffer, n);
                if (sha != null) {
                    sha.update(buffer, 0, n);
                }
                have += n;
                watchdog.touch();
                progress.advanced(have);
            }
            complete = have == size;
        } catch (IOException e) {
            // from closing the body or the file
            throw new LoupeException(partial + ": could not finish writing the download: " + e, e);
        } finally {
            progress.finished(complete);
        }
        return have;
    }

    private LoupeException networkFailure(
            URI url,
            URI servedBy,
            String filename,
            Path partial,
            long have,
            long size,
            boolean stalled,
            IOException e) {
        String what = stalled
                ? "no data arrived for " + seconds(settings.downloadTimeout()) + " (HF_HUB_DOWNLOAD_TIMEOUT)"
                : "the connection failed (" + e + ")";
        // The host only: a CDN URL's query is a signature, not for logs.
        String via = sameOrigin(url, servedBy)
                ? ""
                : " (served by " + servedBy.getScheme() + "://" + servedBy.getHost()
                        + (servedBy.getPort() >= 0 ? ":" + servedBy.getPort() : "") + ")";
        return new LoupeException(
                "download of '" + filename + "' from " + url + via + " stopped after " + have + " of "
                        + size + " bytes: " + what + ". This can be retried: the next attempt resumes from byte " + have
                        + " (kept in " + partial + ").",
                e);
    }

    /** GET with an optional range, following redirects; the token goes only to the endpoint's origin. */
    private HttpResponse<InputStream> get(RepoRef ref, String filename, URI url, long from) {
        URI current = url;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder b =
                    request(current, settings.downloadTimeout()).GET().header("Accept-Encoding", "identity");
            if (from > 0) {
                b.header("Range", "bytes=" + from + "-");
            }
            HttpResponse<InputStream> response = send(
                    b.build(),
                    HttpResponse.BodyHandlers.ofInputStream(),
                    current,
                    settings.downloadTimeout(),
                    "HF_HUB_DOWNLOAD_TIMEOUT");
            int status = response.statusCode();
            if (isRedirect(status)) {
                closeQuietly(response.body());
                String location = response.headers()
                        .firstValue("Location")
                        .orElseThrow(() -> new LoupeException("the server at " + url + " redirected (HTTP " + status
                                + ") without a Location header"));
                current = resolveLocation(current, location);
                continue;
            }
            if (status == 200 || status == 206 || status == 416) {
                return response;
            }
            closeQuietly(response.body());
            throw httpError(ref, filename, current, response);
        }
        throw new LoupeException("more than " + MAX_REDIRECTS + " redirects fetching '" + filename + "' from " + url);
    }

    private HttpRequest.Builder request(URI uri, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout).header("User-Agent", USER_AGENT);
        if (settings.token().isPresent() && sameOrigin(uri, settings.endpoint())) {
            b.header("Authorization", "Bearer " + settings.token().get());
        }
        return b;
    }

    private <T> HttpResponse<T> send(
            HttpRequest request,
            HttpResponse.BodyHandler<T> handler,
            URI url,
            Duration timeout,
            String timeoutVariable) {
        try {
            return http.send(request, handler);
        } catch (HttpTimeoutException e) {
            throw new LoupeException(
                    "no answer from " + url + " within " + seconds(timeout) + " (" + timeoutVariable
                            + "). Check the network and HF_ENDPOINT; this can be retried, and a partial download resumes"
                            + " where it stopped.",
                    e);
        } catch (IOException e) {
            throw new LoupeException(
                    "could not reach " + url + ": " + e + ". Check the network and HF_ENDPOINT"
                            + " (or set HF_HUB_OFFLINE=1 to use only the cache); this can be retried, and a partial download"
                            + " resumes where it stopped.",
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("interrupted while fetching " + url, e);
        }
    }

    // ---------------------------------------------------------------- errors

    private LoupeException notFound(RepoRef ref, String filename) {
        return new LoupeException("file '" + filename + "' not found in repository '" + ref.repoId()
                + "' at revision '" + ref.revision() + "' (HTTP 404 from " + resolveUrl(ref, filename)
                + "). Check the repo id and revision"
                + (filename.equals(RepoFiles.CONFIG)
                        ? "; Loupe needs a transformers model repository with a config.json."
                        : "."));
    }

    private LoupeException httpError(RepoRef ref, String filename, URI url, HttpResponse<?> response) {
        int status = response.statusCode();
        String code = errorCode(response);
        String serverSays = response.headers()
                .firstValue("X-Error-Message")
                .map(m -> ", server says: " + printable(m))
                .orElse("");
        String http = " (HTTP " + status + " from " + url + serverSays + ")";
        String file = "'" + filename + "' of repository '" + ref.repoId() + "' at revision '" + ref.revision() + "'";
        String tokenState = settings.token().isPresent()
                ? "a token from " + settings.tokenSource()
                        + " was sent, but it was refused or cannot read this repository"
                : "no token was sent";
        switch (code) {
            case "RepoNotFound":
                return new LoupeException("repository '" + ref.repoId() + "' not found at " + settings.endpoint() + http
                        + ". Check the repo id; if the repository is private or gated, set HF_TOKEN to an access token"
                        + " that can read it (" + tokenState + ").");
            case "GatedRepo":
                return new LoupeException("repository '" + ref.repoId() + "' is gated" + http
                        + ". Accept its conditions at "
                        + settings.endpoint() + "/" + ref.repoId() + ", then set HF_TOKEN to an access token of that"
                        + " account (" + tokenState + ").");
            case "RevisionNotFound":
                return new LoupeException("revision '" + ref.revision() + "' not found in repository '" + ref.repoId()
                        + "'" + http + ". Check the branch, tag or commit.");
            case "EntryNotFound":
                return new LoupeException("file " + file + " not found" + http + ".");
            default:
                break;
        }
        if (status == 401 || status == 403) {
            return new LoupeException("access to " + file + " was denied" + http + ". A token may be needed: set"
                    + " HF_TOKEN to a Hugging Face access token with read access (" + tokenState + ").");
        }
        if (status == 404) {
            return new LoupeException("file " + file + " not found" + http + ".");
        }
        if (status == 429) {
            return new LoupeException("the Hub rate-limited the request for " + file + http
                    + ". Wait and retry; a partial download resumes where it stopped.");
        }
        if (status >= 500) {
            return new LoupeException("server error fetching " + file + http + ". This is usually temporary: retry;"
                    + " a partial download resumes where it stopped.");
        }
        return new LoupeException("unexpected answer fetching " + file + http + ".");
    }

    private static String errorCode(HttpResponse<?> response) {
        return response.headers().firstValue("X-Error-Code").map(String::strip).orElse("");
    }

    /** Server-provided text made safe to print: no control characters, at most 300 characters. */
    private static String printable(String s) {
        String clean = s.replaceAll("\\p{Cntrl}", " ");
        return clean.length() <= 300 ? clean : clean.substring(0, 300) + "...";
    }

    // ---------------------------------------------------------------- helpers

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private static boolean isRelative(String location) {
        try {
            URI u = new URI(location.strip());
            return u.getScheme() == null && u.getRawAuthority() == null;
        } catch (URISyntaxException e) {
            return false;
        }
    }

    private static URI resolveLocation(URI base, String location) {
        URI next;
        try {
            next = base.resolve(new URI(location.strip()));
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new LoupeException(
                    "the server at " + base + " redirected to an invalid URL '" + printable(location) + "'", e);
        }
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || next.getHost() == null) {
            throw new LoupeException("the server at " + base + " redirected to '" + printable(location)
                    + "', which is not an http(s) URL");
        }
        return next;
    }

    /** Same scheme, host and port (default ports made explicit): where a credential may go. */
    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        if (u.getPort() >= 0) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** Percent-encodes all but RFC 3986 unreserved characters (and '/' if {@code keepSlash}). */
    static String percentEncode(String s, boolean keepSlash) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'A' && c <= 'Z')
                    || (c >= 'a' && c <= 'z')
                    || (c >= '0' && c <= '9')
                    || c == '-'
                    || c == '.'
                    || c == '_'
                    || c == '~'
                    || (keepSlash && c == '/')) {
                sb.append((char) c);
            } else {
                sb.append('%')
                        .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return sb.toString();
    }

    private static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.3g s", d.toMillis() / 1000.0);
    }

    private static boolean hasSize(Path file, long size) {
        try {
            return Files.isRegularFile(file) && Files.size(file) == size;
        } catch (IOException e) {
            return false;
        }
    }

    private static long fileSize(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            throw new LoupeException(file + ": could not read the partial download: " + e, e);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    private static void digestPrefix(Path file, long length, MessageDigest sha) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            long left = length;
            while (left > 0) {
                buf.clear().limit((int) Math.min(buf.capacity(), left));
                int n = ch.read(buf);
                if (n < 0) {
                    throw new IOException("file shrank while being read");
                }
                buf.flip();
                sha.update(buf);
                left -= n;
            }
        } catch (IOException e) {
            throw new LoupeException(file + ": could not read the partial download: " + e, e);
        }
    }

    private static FileChannel openForWrite(Path partial, long from) {
        try {
            FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            ch.truncate(from);
            ch.position(from);
            return ch;
        } catch (IOException e) {
            throw new LoupeException(partial + ": could not open the download file: " + e, e);
        }
    }

    private static void write(FileChannel out, Path partial, byte[] buffer, int n) {
        ByteBuffer b = ByteBuffer.wrap(buffer, 0, n);
        try {
            while (b.hasRemaining()) {
                out.write(b);
            }
        } catch (IOException e) {
            throw new LoupeException(partial + ": could not write the download (disk full?): " + e, e);
        }
    }

    private static void forceToDisk(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        } catch (IOException e) {
            throw new LoupeException(file + ": could not flush the download to disk: " + e, e);
        }
    }

    private static void touch(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.force(true);
        } catch (IOException e) {
            throw new LoupeException(file + ": could not create the download file: " + e, e);
        }
    }

    private static void deleteIfExists(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new LoupeException(file + ": could not delete: " + e, e);
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            if (in != null) {
                in.close();
            }
        } catch (IOException e) {
            // the response is abandoned anyway
        }
    }
}
