package dev.loupe.engine.hub;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stand-in for the Hugging Face Hub on loopback (127.0.0.1, ephemeral ports), so the download
 * tests never touch the internet.
 *
 * <p>It answers {@code HEAD}/{@code GET} on {@code /{repo}/resolve/{revision}/{file}} with the
 * Hub's headers: {@code X-Repo-Commit}, {@code ETag} (the git blob SHA-1) and
 * {@code Content-Length} for small files; for LFS files a 302 to a second server (the "CDN", on
 * another port, so another origin) with {@code X-Linked-Etag} (the SHA-256) and
 * {@code X-Linked-Size}. Errors carry {@code X-Error-Code} like the Hub's. Content supports
 * {@code Range: bytes=N-}. Faults can be queued per file: cut the body off after N bytes, send
 * corrupt bytes, stall, ignore the range, or answer with an error status. Every request is
 * recorded.
 */
final class FakeHub implements AutoCloseable {

    /** One request as the server saw it. */
    record Request(String server, String method, String path, String range, String authorization) {}

    /** A repository with one commit; branches name that commit. */
    static final class Repo {
        final String id;
        final String commit;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final Set<String> lfs = new HashSet<>();
        final Set<String> branches = new HashSet<>(Set.of("main"));

        Repo(String id, String commit) {
            this.id = id;
            this.commit = commit;
        }

        Repo file(String name, byte[] content) {
            files.put(name, content);
            return this;
        }

        Repo lfsFile(String name, byte[] content) {
            files.put(name, content);
            lfs.add(name);
            return this;
        }

        Repo branch(String name) {
            branches.add(name);
            return this;
        }
    }

    private interface Fault {}

    private record CutOff(long afterBytes) implements Fault {}

    private record Corrupt() implements Fault {}

    private record Stall(long afterBytes, long millis) implements Fault {}

    private record IgnoreRange() implements Fault {}

    private record Status(int code, String errorCode) {}

    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer hub;
    private final HttpServer cdn;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-hub");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, Repo> repos = new HashMap<>();
    private final Map<String, String> renamed = new HashMap<>();
    private final Map<String, byte[]> cdnContent = new HashMap<>();
    private final Map<String, String> cdnNames = new HashMap<>();
    private final Map<String, Deque<Fault>> bodyFaults = new HashMap<>();
    private final Map<String, Status> fileStatus = new HashMap<>();
    private final List<Request> requests = new ArrayList<>();
    private Status allStatus;

    FakeHub() throws IOException {
        hub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        hub.setExecutor(executor);
        cdn.setExecutor(executor);
        hub.start();
        cdn.start();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
    }

    URI cdnBase() {
        return URI.create("http://127.0.0.1:" + cdn.getAddress().getPort());
    }

    synchronized Repo add(Repo repo) {
        repos.put(repo.id, repo);
        for (String name : repo.lfs) {
            String sha = sha256(repo.files.get(name));
            cdnContent.put(sha, repo.files.get(name));
            cdnNames.put(sha, name);
        }
        return repo;
    }

    /** Requests for {@code oldId} get a relative 307 to {@code newId}, as the Hub does for renamed repositories. */
    synchronized void rename(String oldId, String newId) {
        renamed.put(oldId, newId);
    }

    synchronized List<Request> requests() {
        return List.copyOf(requests);
    }

    synchronized int requestCount() {
        return requests.size();
    }

    /** The next content response for {@code file} sends only its first {@code afterBytes} bytes, then drops the connection. */
    synchronized void cutOffNext(String file, long afterBytes) {
        bodyFaults.computeIfAbsent(file, k -> new ArrayDeque<>()).add(new CutOff(afterBytes));
    }

    /** The next content response for {@code file} has every byte inverted (same length). */
    synchronized void corruptNext(String file) {
        bodyFaults.computeIfAbsent(file, k -> new ArrayDeque<>()).add(new Corrupt());
    }

    /** The next content response for {@code file} sends {@code afterBytes} bytes, then nothing for {@code millis}, then drops. */
    synchronized void stallNext(String file, long afterBytes, long millis) {
        bodyFaults.computeIfAbsent(file, k -> new ArrayDeque<>()).add(new Stall(afterBytes, millis));
    }

    /** The next content response for {@code file} ignores a Range header and sends everything with 200. */
    synchronized void ignoreRangeNext(String file) {
        bodyFaults.computeIfAbsent(file, k -> new ArrayDeque<>()).add(new IgnoreRange());
    }

    /** Every request for {@code file} (HEAD and GET, any repo) gets {@code code}, until cleared with code 0. */
    synchronized void failFile(String file, int code, String errorCode) {
        if (code == 0) {
            fileStatus.remove(file);
        } else {
            fileStatus.put(file, new Status(code, errorCode));
        }
    }

    /** Every hub request gets {@code code}, until cleared with code 0. */
    synchronized void failAll(int code, String errorCode) {
        allStatus = code == 0 ? null : new Status(code, errorCode);
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ handlers

    private void record(String server, HttpExchange ex) {
        Headers h = ex.getRequestHeaders();
        synchronized (this) {
            requests.add(new Request(
                    server,
                    ex.getRequestMethod(),
                    ex.getRequestURI().getRawPath(),
                    h.getFirst("Range"),
                    h.getFirst("Authorization")));
        }
    }

    private void handleHub(HttpExchange ex) throws IOException {
        try (ex) {
            record("hub", ex);
            String path = ex.getRequestURI().getRawPath();
            int at = path.indexOf("/resolve/");
            if (at < 1) {
                error(ex, 404, "RepoNotFound");
                return;
            }
            String repoId = path.substring(1, at);
            String rest = path.substring(at + "/resolve/".length());
            int slash = rest.indexOf('/');
            if (slash < 1) {
                error(ex, 404, "EntryNotFound");
                return;
            }
            String revision = decode(rest.substring(0, slash));
            String file = decode(rest.substring(slash + 1));
            String newId;
            synchronized (this) {
                newId = renamed.get(repoId);
            }
            if (newId != null) {
                ex.getResponseHeaders().set("Location", "/" + newId + path.substring(at));
                ex.sendResponseHeaders(307, -1);
                return;
            }
            Repo repo;
            Status status;
            synchronized (this) {
                repo = repos.get(repoId);
                status = allStatus != null ? allStatus : fileStatus.get(file);
            }
            if (status != null) {
                error(ex, status.code, status.errorCode);
                return;
            }
            if (repo == null) {
                error(ex, 404, "RepoNotFound");
                return;
            }
            if (!repo.commit.equals(revision) && !repo.branches.contains(revision)) {
                error(ex, 404, "RevisionNotFound");
                return;
            }
            Headers out = ex.getResponseHeaders();
            out.set("X-Repo-Commit", repo.commit);
            byte[] content = repo.files.get(file);
            if (content == null) {
                error(ex, 404, "EntryNotFound");
                return;
            }
            boolean head = ex.getRequestMethod().equals("HEAD");
            if (repo.lfs.contains(file)) {
                String sha = sha256(content);
                byte[] pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha + "\nsize "
                                + content.length + "\n")
                        .getBytes(StandardCharsets.UTF_8);
                out.set("ETag", "\"" + gitBlobSha1(pointer) + "\"");
                out.set("X-Linked-Etag", "\"" + sha + "\"");
                out.set("X-Linked-Size", Long.toString(content.length));
                out.set("Location", cdnBase() + "/cdn/" + sha);
                if (head) {
                    out.set("Content-Length", Long.toString(pointer.length));
                }
                ex.sendResponseHeaders(302, -1);
                return;
            }
            out.set("ETag", "\"" + gitBlobSha1(content) + "\"");
            if (head) {
                out.set("Content-Length", Long.toString(content.length));
                ex.sendResponseHeaders(200, -1);
                return;
            }
            serveContent(ex, file, content);
        }
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        try (ex) {
            record("cdn", ex);
            String path = ex.getRequestURI().getRawPath();
            String sha = path.startsWith("/cdn/") ? path.substring(5) : "";
            byte[] content;
            String file;
            synchronized (this) {
                content = cdnContent.get(sha);
                file = cdnNames.get(sha);
            }
            if (content == null) {
                error(ex, 404, null);
                return;
            }
            ex.getResponseHeaders().set("ETag", "\"cdn-" + sha.substring(0, 8) + "\"");
            if (ex.getRequestMethod().equals("HEAD")) {
                ex.getResponseHeaders().set("Content-Length", Long.toString(content.length));
                ex.sendResponseHeaders(200, -1);
                return;
            }
            serveContent(ex, file, content);
        }
    }

    /** Sends {@code content} (or its requested range) with the next queued fault for {@code file}. */
    private void serveContent(HttpExchange ex, String file, byte[] content) throws IOException {
        Fault fault;
        synchronized (this) {
            Deque<Fault> q = bodyFaults.get(file);
            fault = q == null ? null : q.poll();
        }
        String range = ex.getRequestHeaders().getFirst("Range");
        int from = 0;
        int status = 200;
        if (range != null && !(fault instanceof IgnoreRange)) {
            Matcher m = RANGE.matcher(range);
            if (!m.matches()) {
                error(ex, 400, null);
                return;
            }
            long start = Long.parseLong(m.group(1));
            if (start >= content.length) {
                ex.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            from = (int) start;
            status = 206;
            ex.getResponseHeaders()
                    .set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        byte[] body = Arrays.copyOfRange(content, from, content.length);
        if (fault instanceof Corrupt) {
            for (int i = 0; i < body.length; i++) {
                body[i] = (byte) ~body[i];
            }
        }
        ex.sendResponseHeaders(status, body.length);
        OutputStream os = ex.getResponseBody();
        if (fault instanceof CutOff cut) {
            os.write(body, 0, (int) Math.min(body.length, cut.afterBytes()));
            os.flush();
            throw new IOException("fake hub: cutting the response off on purpose"); // drops the connection
        }
        if (fault instanceof Stall stall) {
            os.write(body, 0, (int) Math.min(body.length, stall.afterBytes()));
            os.flush();
            try {
                Thread.sleep(stall.millis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("fake hub: dropping a stalled response on purpose");
        }
        os.write(body);
    }

    private static void error(HttpExchange ex, int code, String errorCode) throws IOException {
        if (errorCode != null) {
            ex.getResponseHeaders().set("X-Error-Code", errorCode);
            ex.getResponseHeaders().set("X-Error-Message", errorCode + " (fake hub)");
        }
        ex.sendResponseHeaders(code, -1);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    static String sha256(byte[] content) {
        return hex("SHA-256", content);
    }

    /** git's object id for a blob: SHA-1 of "blob <size>\0" + content, as the Hub's ETag for small files. */
    static String gitBlobSha1(byte[] content) {
        byte[] prefix = ("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(prefix, prefix.length + content.length);
        System.arraycopy(content, 0, all, prefix.length, content.length);
        return hex("SHA-1", all);
    }

    private static String hex(String algorithm, byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
