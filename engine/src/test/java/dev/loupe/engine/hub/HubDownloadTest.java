package dev.loupe.engine.hub;

import static dev.loupe.engine.hub.HubTestSupport.COMMIT;
import static dev.loupe.engine.hub.HubTestSupport.CONFIG;
import static dev.loupe.engine.hub.HubTestSupport.assertLoupe;
import static dev.loupe.engine.hub.HubTestSupport.assertNotLeaked;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsReader;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Downloads from a {@link FakeHub} on loopback into a temporary HF_HOME. */
class HubDownloadTest {

    private static final String TOKEN = "hf_TESTsecretTOKEN0123456789";

    @TempDir
    Path tmp;

    private FakeHub hub;
    private FakeHub.Repo repo;
    private byte[] weights;
    private String weightsSha;

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        repo = hub.add(HubTestSupport.tinyRepo(tmp.resolve("scratch")));
        weights = repo.files.get("model.safetensors");
        weightsSha = FakeHub.sha256(weights);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private Map<String, String> env(String... extra) {
        Map<String, String> env = new HashMap<>();
        env.put("HF_HOME", tmp.resolve("hf").toString());
        env.put("HF_ENDPOINT", hub.endpoint().toString());
        env.put("HF_HUB_DISABLE_PROGRESS_BARS", "1");
        for (int i = 0; i < extra.length; i += 2) {
            env.put(extra[i], extra[i + 1]);
        }
        return env;
    }

    private HubClient client(String... extra) {
        return new HubClient(HubSettings.fromEnvironment(env(extra)), DownloadProgress.NONE);
    }

    private Path repoDir() {
        return tmp.resolve("hf").resolve("hub").resolve("models--org--tiny");
    }

    private List<String> blobNames() throws IOException {
        try (Stream<Path> s = Files.list(repoDir().resolve("blobs"))) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    private long rangeStart(FakeHub.Request r) {
        return r.range() == null ? 0 : Long.parseLong(r.range().replaceAll("bytes=(\\d+)-", "$1"));
    }

    @Test
    void downloadBuildsTheStandardCacheLayout() throws IOException {
        Path snapshot = Pretrained.resolve("org/tiny", env());

        Path dir = repoDir();
        assertEquals(dir.resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(dir.resolve("refs/main")));

        Path config = snapshot.resolve("config.json");
        assertTrue(Files.isSymbolicLink(config), "snapshot files are symlinks into blobs/");
        String configEtag = FakeHub.gitBlobSha1(CONFIG.getBytes(StandardCharsets.UTF_8));
        assertEquals(
                Path.of("../../blobs/" + configEtag), Files.readSymbolicLink(config), "relative, like huggingface_hub");
        assertEquals(CONFIG, Files.readString(config));

        Path model = snapshot.resolve("model.safetensors");
        assertEquals(Path.of("../../blobs/" + weightsSha), Files.readSymbolicLink(model), "LFS blob named by SHA-256");
        assertArrayEquals(weights, Files.readAllBytes(model));
        assertTrue(Files.isRegularFile(snapshot.resolve("tokenizer.json")));
        try (SafetensorsReader reader = SafetensorsReader.open(model)) {
            INDArray w = reader.read("wte.weight");
            assertArrayEquals(new long[] {64, 64}, w.shape());
            assertEquals(1.0 + 0.5 * 65, w.getDouble(1, 1), 0.0);
        }

        // Optional files the repository lacks are remembered as absent, not fetched.
        for (String absent : List.of("vocab.json", "merges.txt", "tokenizer_config.json")) {
            assertFalse(Files.exists(snapshot.resolve(absent)), absent);
            assertTrue(Files.exists(dir.resolve(".no_exist").resolve(COMMIT).resolve(absent)), absent + " marker");
        }
        assertFalse(Files.exists(dir.resolve(".no_exist").resolve(COMMIT).resolve("model.safetensors")));
        assertEquals(
                List.of(
                                configEtag,
                                FakeHub.gitBlobSha1(HubTestSupport.TOKENIZER.getBytes(StandardCharsets.UTF_8)),
                                weightsSha)
                        .stream()
                        .sorted()
                        .collect(Collectors.toList()),
                blobNames(),
                "no .incomplete left");
        assertTrue(Files.isDirectory(tmp.resolve("hf/hub/.locks/models--org--tiny")));

        // LFS content came from the CDN origin; after the first file every request named the commit.
        List<FakeHub.Request> requests = hub.requests();
        assertTrue(
                requests.get(0).path().contains("/resolve/main/config.json"),
                requests.get(0).toString());
        assertTrue(
                requests.stream().skip(1).filter(r -> r.server().equals("hub")).allMatch(r -> r.path()
                        .contains("/resolve/" + COMMIT + "/")),
                requests.toString());
        assertEquals(1, requests.stream().filter(r -> r.server().equals("cdn")).count());
        assertEquals(Optional.of(snapshot), new HubCache(tmp.resolve("hf/hub")).snapshot("org/tiny", "main"));
    }

    @Test
    void aSecondCallMakesNoRequests() {
        Path first = Pretrained.resolve("org/tiny", env());
        int count = hub.requestCount();
        assertTrue(count >= 8, "HEADs and GETs of the first download: " + count);
        assertEquals(first, Pretrained.resolve("org/tiny", env()));
        assertEquals(first, Pretrained.resolve("org/tiny@main", env()));
        assertEquals(first, Pretrained.resolve("org/tiny@" + COMMIT, env()));
        assertEquals(count, hub.requestCount(), "served from the cache");
    }

    @Test
    void aCutOffDownloadLeavesOnlyAPartialFileAndTheNextCallResumesIt() throws IOException {
        long cut = 5000;
        hub.cutOffNext("model.safetensors", cut);
        LoupeException e = assertLoupe(
                () -> Pretrained.resolve("org/tiny", env()),
                "model.safetensors",
                hub.endpoint() + "/org/tiny/resolve/" + COMMIT + "/model.safetensors",
                "served by " + hub.cdnBase() + ")",
                "retried",
                "resume");

        Path incomplete = repoDir().resolve("blobs").resolve(weightsSha + ".incomplete");
        assertEquals(cut, Files.size(incomplete), "the bytes that arrived are kept");
        assertFalse(Files.exists(repoDir().resolve("blobs").resolve(weightsSha)), "never a blob: " + e.getMessage());
        Path snapshotDir = repoDir().resolve("snapshots").resolve(COMMIT);
        assertFalse(Files.exists(snapshotDir.resolve("model.safetensors")));
        assertFalse(Files.exists(repoDir().resolve("refs/main")), "refs point only at complete snapshots");
        assertEquals(Optional.empty(), new HubCache(tmp.resolve("hf/hub")).snapshot("org/tiny", COMMIT));
        assertLoupe(() -> Pretrained.resolve("org/tiny", env("HF_HUB_OFFLINE", "1")), "offline");

        int before = hub.requestCount();
        Path snapshot = Pretrained.resolve("org/tiny", env());
        List<FakeHub.Request> resumed = hub.requests().subList(before, hub.requestCount());
        List<FakeHub.Request> cdnGets =
                resumed.stream().filter(r -> r.server().equals("cdn")).collect(Collectors.toList());
        assertEquals(1, cdnGets.size(), resumed.toString());
        assertEquals("bytes=" + cut + "-", cdnGets.get(0).range(), "resumed from the partial length");
        assertTrue(
                resumed.stream()
                        .noneMatch(r ->
                                r.path().endsWith("/config.json") && r.method().equals("GET")),
                "files already in the snapshot are not fetched again: " + resumed);
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertFalse(Files.exists(incomplete));
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/main")));
    }

    @Test
    void aCutOffAtTheVeryFirstByteAndRepeatedCutsStillConverge() throws IOException {
        hub.cutOffNext("model.safetensors", 0);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "resume");
        hub.cutOffNext("model.safetensors", 3000);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "resumes from byte 3000");
        hub.cutOffNext("model.safetensors", 4000);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "resumes from byte 7000");
        Path snapshot = Pretrained.resolve("org/tiny", env());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        List<String> ranges = hub.requests().stream()
                .filter(r -> r.server().equals("cdn"))
                .map(r -> String.valueOf(r.range()))
                .collect(Collectors.toList());
        assertEquals(List.of("null", "null", "bytes=3000-", "bytes=7000-"), ranges);
    }

    @Test
    void aCorruptDownloadIsRejectedAndNotKept() throws IOException {
        hub.corruptNext("model.safetensors");
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "model.safetensors", "SHA-256", weightsSha, "deleted");
        assertFalse(Files.exists(repoDir().resolve("blobs").resolve(weightsSha)));
        assertFalse(
                Files.exists(repoDir().resolve("blobs").resolve(weightsSha + ".incomplete")),
                "bad bytes are not kept for a resume");
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));

        Path snapshot = Pretrained.resolve("org/tiny", env());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    void aCorruptResumedTailIsCaughtByTheWholeFileHash() throws IOException {
        hub.cutOffNext("model.safetensors", 6000);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "resume");
        hub.corruptNext("model.safetensors");
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "SHA-256");
        assertEquals(
                List.of(),
                blobNames().stream().filter(n -> n.startsWith(weightsSha)).collect(Collectors.toList()));
        Pretrained.resolve("org/tiny", env());
        assertTrue(blobNames().contains(weightsSha));
    }

    @Test
    void aServerThatIgnoresTheRangeGetsAFreshStart() throws IOException {
        hub.cutOffNext("model.safetensors", 5000);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "resume");
        hub.ignoreRangeNext("model.safetensors");
        Path snapshot = Pretrained.resolve("org/tiny", env());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    void aPartialFileLongerThanTheBlobIsDiscarded() throws IOException {
        Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(repoDir().resolve("blobs").resolve(weightsSha + ".incomplete"), new byte[weights.length + 10]);
        Path snapshot = Pretrained.resolve("org/tiny", env());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertNull(hub.requests().stream()
                .filter(r -> r.server().equals("cdn"))
                .findFirst()
                .get()
                .range());
    }

    @Test
    void aCompletePartialFileIsVerifiedAndUsedWithoutFetching() throws IOException {
        // As if a previous run died between the last byte and the rename.
        Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(repoDir().resolve("blobs").resolve(weightsSha + ".incomplete"), weights);
        Path snapshot = Pretrained.resolve("org/tiny", env());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertEquals(
                0, hub.requests().stream().filter(r -> r.server().equals("cdn")).count());
    }

    @Test
    void aStalledDownloadTimesOutAndResumes() throws IOException {
        // Small files first, with the normal timeout, so the short one below only meets the stall.
        hub.cutOffNext("model.safetensors", 0);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "resume");
        hub.stallNext("model.safetensors", 4096, 20_000);
        long t0 = System.nanoTime();
        assertLoupe(
                () -> Pretrained.resolve("org/tiny", env("HF_HUB_DOWNLOAD_TIMEOUT", "1")),
                "no data arrived",
                "HF_HUB_DOWNLOAD_TIMEOUT",
                "resumes from byte 4096");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 10, "gave up after the stall timeout, not the server's 20 s: " + seconds);
        Path snapshot = Pretrained.resolve("org/tiny", env());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(hub.requests().stream().anyMatch(r -> "bytes=4096-".equals(r.range())));
    }

    @Test
    void offlineModeUsesTheCacheOnly() {
        LoupeException missing = assertLoupe(
                () -> Pretrained.resolve("org/tiny", env("HF_HUB_OFFLINE", "1")),
                "offline",
                "HF_HUB_OFFLINE",
                "'org/tiny'",
                repoDir().toString());
        assertEquals(0, hub.requestCount(), missing.getMessage());

        Path online = Pretrained.resolve("org/tiny", env());
        int count = hub.requestCount();
        for (String on : List.of("1", "true", "YES", "on")) {
            assertEquals(online, Pretrained.resolve("org/tiny", env("HF_HUB_OFFLINE", on)));
        }
        assertEquals(
                online,
                client("HF_HUB_OFFLINE", "1")
                        .downloadFile(RepoRef.of("org/tiny"), "config.json")
                        .getParent());
        assertEquals(count, hub.requestCount());
        assertLoupe(() -> Pretrained.resolve("org/tiny@v2", env("HF_HUB_OFFLINE", "1")), "'v2'", "refs");
        assertLoupe(
                () -> client("HF_HUB_OFFLINE", "1").downloadFile(RepoRef.of("org/tiny"), "vocab.json"),
                "offline",
                "vocab.json");
        assertEquals(count, hub.requestCount());
    }

    @Test
    void unauthorizedAndGatedSayAHfTokenMayBeNeeded() {
        hub.failAll(401, null);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "401", "HF_TOKEN", "config.json", "no token was sent");
        hub.failAll(403, null);
        assertLoupe(
                () -> Pretrained.resolve("org/tiny", env("HF_TOKEN", TOKEN)),
                "403",
                "HF_TOKEN",
                "was sent, but it was refused");
        hub.failAll(401, "RepoNotFound");
        assertLoupe(
                () -> Pretrained.resolve("org/tiny", env()), "repository 'org/tiny' not found", "private", "HF_TOKEN");
        hub.failAll(403, "GatedRepo");
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "gated", "HF_TOKEN", hub.endpoint() + "/org/tiny");
    }

    @Test
    void missingRepositoriesRevisionsAndFilesAreNamed() throws IOException {
        assertLoupe(() -> Pretrained.resolve("org/nope", env()), "repository 'org/nope' not found", "404");
        assertLoupe(() -> Pretrained.resolve("org/tiny@v9", env()), "revision 'v9' not found", "'org/tiny'");

        hub.failFile("config.json", 404, null);
        assertLoupe(() -> Pretrained.resolve("org/tiny", env()), "file 'config.json' not found", "'org/tiny'", "404");
        hub.failFile("config.json", 0, null);

        hub.add(new FakeHub.Repo("org/noweights", COMMIT).file("config.json", "{}".getBytes(StandardCharsets.UTF_8)));
        assertLoupe(
                () -> Pretrained.resolve("org/noweights", env()),
                "model.safetensors",
                "model.safetensors.index.json",
                "'org/noweights'");

        FakeHub.Repo gone = new FakeHub.Repo("org/gone", COMMIT)
                .file("config.json", "{}".getBytes(StandardCharsets.UTF_8))
                .file("model.safetensors", weights);
        hub.add(gone);
        hub.failFile("tokenizer.json", 500, null);
        assertLoupe(() -> Pretrained.resolve("org/gone", env()), "server error", "tokenizer.json", "500", "retry");
        hub.failFile("tokenizer.json", 0, null);
        assertLoupe(
                () -> client().downloadFile(RepoRef.of("org/gone"), "special_tokens_map.json"),
                "file 'special_tokens_map.json' not found",
                "'org/gone'");
    }

    @Test
    void aMissingShardIsNamed() throws IOException {
        byte[] shard1 = HubTestSupport.weights(tmp.resolve("s1"), "a.safetensors", 2f);
        String index = "{\"metadata\": {}, \"weight_map\": {\"wte.weight\": \"model-00001-of-00002.safetensors\","
                + " \"ln_f.bias\": \"model-00002-of-00002.safetensors\"}}";
        hub.add(new FakeHub.Repo("org/sharded", COMMIT)
                .file("config.json", CONFIG.getBytes(StandardCharsets.UTF_8))
                .file("model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8))
                .lfsFile("model-00001-of-00002.safetensors", shard1));
        assertLoupe(
                () -> Pretrained.resolve("org/sharded", env()),
                "'model-00002-of-00002.safetensors' not found",
                "'org/sharded'");
    }

    @Test
    void shardedWeightsAreDownloadedCompletely() throws IOException {
        byte[] shard1 = HubTestSupport.weights(tmp.resolve("s1"), "a.safetensors", 2f);
        byte[] shard2 = HubTestSupport.weights(tmp.resolve("s2"), "b.safetensors", 3f);
        String index = "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {"
                + "\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\","
                + " \"c\": \"model-00001-of-00002.safetensors\"}}";
        hub.add(new FakeHub.Repo("EleutherAI/pythia-tiny", COMMIT)
                .file("config.json", CONFIG.getBytes(StandardCharsets.UTF_8))
                .file("vocab.json", "{}".getBytes(StandardCharsets.UTF_8))
                .file("merges.txt", "#version: 0.2\n".getBytes(StandardCharsets.UTF_8))
                .file("model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8))
                .lfsFile("model-00001-of-00002.safetensors", shard1)
                .lfsFile("model-00002-of-00002.safetensors", shard2));
        hub.cutOffNext("model-00002-of-00002.safetensors", 100);
        assertLoupe(() -> Pretrained.resolve("EleutherAI/pythia-tiny", env()), "model-00002-of-00002.safetensors");
        HubCache cache = new HubCache(tmp.resolve("hf/hub"));
        assertEquals(Optional.empty(), cache.snapshot("EleutherAI/pythia-tiny", COMMIT), "a shard is missing");

        Path snapshot = Pretrained.resolve("EleutherAI/pythia-tiny", env());
        assertTrue(snapshot.startsWith(tmp.resolve("hf/hub/models--EleutherAI--pythia-tiny")));
        assertArrayEquals(shard1, Files.readAllBytes(snapshot.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(shard2, Files.readAllBytes(snapshot.resolve("model-00002-of-00002.safetensors")));
        assertTrue(Files.exists(snapshot.resolve("vocab.json")));
        assertTrue(Files.exists(snapshot.resolve("merges.txt")));
        assertEquals(Optional.of(snapshot), cache.snapshot("EleutherAI/pythia-tiny", "main"));
    }

    @Test
    void anIndexNamingAFileOutsideTheSnapshotIsRejected() {
        String index = "{\"weight_map\": {\"a\": \"../../../../evil.safetensors\"}}";
        hub.add(new FakeHub.Repo("org/evil", COMMIT)
                .file("config.json", CONFIG.getBytes(StandardCharsets.UTF_8))
                .file("model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8)));
        assertLoupe(() -> Pretrained.resolve("org/evil", env()), "../../../../evil.safetensors", "not allowed");
        assertFalse(Files.exists(tmp.resolve("evil.safetensors")));
    }

    @Test
    void theTokenIsSentAsABearerHeaderOnlyToTheHubAndNeverShown() {
        List<LoupeException> failures = new ArrayList<>();
        hub.cutOffNext("model.safetensors", 10);
        failures.add(assertLoupe(() -> Pretrained.resolve("org/tiny", env("HF_TOKEN", TOKEN)), "resume"));
        Path snapshot = Pretrained.resolve("org/tiny", env("HF_TOKEN", TOKEN));
        assertTrue(Files.exists(snapshot));
        for (FakeHub.Request r : hub.requests()) {
            if (r.server().equals("hub")) {
                assertEquals("Bearer " + TOKEN, r.authorization(), r.toString());
            } else {
                assertNull(r.authorization(), "no token to another origin (the CDN): " + r);
            }
        }

        for (int status : new int[] {401, 403, 404, 429, 500, 503}) {
            hub.failAll(status, null);
            failures.add(assertLoupe(() -> Pretrained.resolve("org/other", env("HF_TOKEN", TOKEN))));
        }
        hub.failAll(0, null);
        failures.add(assertLoupe(() ->
                client("HF_TOKEN", TOKEN, "HF_ENDPOINT", "http://127.0.0.1:9").download(RepoRef.of("org/x"))));
        for (LoupeException e : failures) {
            assertNotLeaked(e, TOKEN);
        }
        String settings = HubSettings.fromEnvironment(env("HF_TOKEN", TOKEN)).toString();
        assertFalse(settings.contains(TOKEN), settings);
        assertTrue(settings.contains("HF_TOKEN"), settings);
    }

    @Test
    void aNetworkFailureNamesTheUrlAndSaysItCanBeRetried() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String endpoint = "http://127.0.0.1:" + port;
        assertLoupe(
                () -> Pretrained.resolve("org/tiny", env("HF_ENDPOINT", endpoint)),
                endpoint + "/org/tiny/resolve/main/config.json",
                "retried",
                "HF_HUB_OFFLINE");
    }

    @Test
    void revisionsGetTheirOwnRefsAndCommitPinsNone() throws IOException {
        repo.branch("v1.0");
        Path v1 = Pretrained.resolve("org/tiny@v1.0", env());
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/v1.0")));
        assertFalse(Files.exists(repoDir().resolve("refs/main")));
        int count = hub.requestCount();
        // main is not known locally yet, so it is asked for once; the snapshot is shared.
        assertEquals(v1, Pretrained.resolve("org/tiny", env()));
        assertEquals(count + 1, hub.requestCount(), "one HEAD to learn main's commit; every file is already there");
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/main")));

        Files.delete(repoDir().resolve("refs/main"));
        Files.delete(repoDir().resolve("refs/v1.0"));
        assertEquals(v1, Pretrained.resolve("org/tiny@" + COMMIT, env()));
        try (Stream<Path> refs = Files.list(repoDir().resolve("refs"))) {
            assertEquals(0, refs.count(), "a commit-hash revision writes no ref");
        }
    }

    @Test
    void aRenamedRepositoryIsFollowedAndCachedUnderTheRequestedName() throws IOException {
        hub.rename("org/old-name", "org/tiny");
        Path snapshot = Pretrained.resolve("org/old-name", env("HF_TOKEN", TOKEN));
        assertEquals(tmp.resolve("hf/hub/models--org--old-name/snapshots/" + COMMIT), snapshot);
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(
                hub.requests().stream().filter(r -> r.server().equals("hub")).allMatch(r -> ("Bearer " + TOKEN)
                        .equals(r.authorization())),
                "same origin keeps the token");
    }

    @Test
    void snapshotsAreCopiesWhereSymlinksCannotBeMade() throws IOException {
        HubSettings settings = HubSettings.fromEnvironment(env());
        HubClient client = new HubClient(settings, new HubCache(settings.cacheRoot(), false), DownloadProgress.NONE);
        Path snapshot = client.download(RepoRef.of("org/tiny"));
        Path model = snapshot.resolve("model.safetensors");
        assertFalse(Files.isSymbolicLink(model));
        assertArrayEquals(weights, Files.readAllBytes(model));
        assertTrue(Files.exists(repoDir().resolve("blobs").resolve(weightsSha)));
        assertEquals(Optional.of(snapshot), new HubCache(settings.cacheRoot()).snapshot("org/tiny", "main"));
    }

    @Test
    void concurrentDownloadsOfOneRepoAgree() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                results.add(pool.submit(() -> Pretrained.resolve("org/tiny", env())));
            }
            Path first = results.get(0).get();
            for (Future<Path> f : results) {
                assertEquals(first, f.get());
            }
            assertArrayEquals(weights, Files.readAllBytes(first.resolve("model.safetensors")));
            assertTrue(
                    blobNames().stream().noneMatch(n -> n.endsWith(".incomplete")),
                    blobNames().toString());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aLocalPathIsReturnedAsItIs() throws IOException {
        Path local = Files.createDirectories(tmp.resolve("my-model"));
        assertEquals(local, Pretrained.resolve(local.toString(), env()));
        Path file = Files.writeString(tmp.resolve("weights.safetensors"), "x");
        assertEquals(file, Pretrained.resolve(file.toString(), env()));
        assertLoupe(() -> Pretrained.resolve(tmp.resolve("missing").toString(), env()), "no such file or folder");
        assertLoupe(() -> Pretrained.resolve("./missing-model", env()), "no such file or folder");
        assertLoupe(() -> Pretrained.resolve("a/b/c", env()), "no such file or folder");
        assertLoupe(() -> Pretrained.resolve("bad--name", env()), "not a valid Hugging Face repo id");
        assertLoupe(() -> Pretrained.resolve(" ", env()), "expected a local path or a Hugging Face repo id");
        assertLoupe(() -> Pretrained.resolve("gpt2@", env()), "revision", "empty");
        assertEquals(0, hub.requestCount());
    }

    @Test
    void theProgressListenerSeesEveryDownload() {
        List<String> events = new ArrayList<>();
        DownloadProgress recorder = new DownloadProgress() {
            private long last;

            @Override
            public void started(String filename, long totalBytes, long resumedFrom) {
                events.add("start " + filename + " " + totalBytes + " " + resumedFrom);
                last = resumedFrom;
            }

            @Override
            public void advanced(long bytesSoFar) {
                assertTrue(bytesSoFar > last, "monotonic");
                last = bytesSoFar;
            }

            @Override
            public void finished(boolean complete) {
                events.add("end " + complete + " " + last);
            }
        };
        hub.cutOffNext("model.safetensors", 1000);
        HubClient client = new HubClient(HubSettings.fromEnvironment(env()), recorder);
        assertLoupe(() -> client.download(RepoRef.of("org/tiny")), "resume");
        client.download(RepoRef.of("org/tiny"));
        int n = weights.length;
        assertTrue(
                events.containsAll(List.of(
                        "start model.safetensors " + n + " 0",
                        "end false 1000",
                        "start model.safetensors " + n + " 1000",
                        "end true " + n)),
                events.toString());
    }
}
