package dev.loupe.engine.hub;

import static dev.loupe.engine.hub.HubTestSupport.assertLoupe;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Environment variables, repo ids, URL encoding and the progress bar: everything without a server. */
class HubSettingsTest {

    @TempDir
    Path tmp;

    private Map<String, String> env(String... kv) {
        Map<String, String> m = new java.util.HashMap<>();
        m.put("HOME", tmp.resolve("home").toString());
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void theCacheFolderFollowsHuggingfaceHubsPrecedence() {
        Path home = tmp.resolve("home");
        assertEquals(
                home.resolve(".cache/huggingface/hub"),
                HubSettings.fromEnvironment(env()).cacheRoot());
        assertEquals(
                tmp.resolve("xdg/huggingface/hub"),
                HubSettings.fromEnvironment(
                                env("XDG_CACHE_HOME", tmp.resolve("xdg").toString()))
                        .cacheRoot());
        assertEquals(
                tmp.resolve("hf/hub"),
                HubSettings.fromEnvironment(env(
                                "XDG_CACHE_HOME",
                                "/x",
                                "HF_HOME",
                                tmp.resolve("hf").toString()))
                        .cacheRoot());
        assertEquals(
                tmp.resolve("legacy"),
                HubSettings.fromEnvironment(env(
                                "HF_HOME",
                                "/hf",
                                "HUGGINGFACE_HUB_CACHE",
                                tmp.resolve("legacy").toString()))
                        .cacheRoot());
        assertEquals(
                tmp.resolve("c"),
                HubSettings.fromEnvironment(env(
                                "HF_HOME",
                                "/hf",
                                "HUGGINGFACE_HUB_CACHE",
                                "/legacy",
                                "HF_HUB_CACHE",
                                tmp.resolve("c").toString()))
                        .cacheRoot());
        assertEquals(
                home.resolve("models/hub"),
                HubSettings.fromEnvironment(env("HF_HOME", "~/models")).cacheRoot());
        assertEquals(
                home.resolve(".cache/huggingface/hub"),
                HubSettings.fromEnvironment(env("HF_HOME", "")).cacheRoot(),
                "empty means unset");
        assertEquals(
                HubSettings.fromEnvironment(env()).cacheRoot(),
                HubCache.fromEnvironment(env()).root());
    }

    @Test
    void endpointTokenOfflineAndTimeouts() throws IOException {
        HubSettings d = HubSettings.fromEnvironment(env());
        assertEquals(URI.create("https://huggingface.co"), d.endpoint());
        assertEquals(Optional.empty(), d.token());
        assertFalse(d.offline());
        assertTrue(d.progressBars());
        assertEquals(Duration.ofSeconds(10), d.downloadTimeout());

        HubSettings s = HubSettings.fromEnvironment(env(
                "HF_ENDPOINT",
                "http://mirror.local:8080/hf/",
                "HF_TOKEN",
                " hf_abc \n",
                "HUGGING_FACE_HUB_TOKEN",
                "hf_legacy",
                "HF_HUB_OFFLINE",
                "True",
                "HF_HUB_DISABLE_PROGRESS_BARS",
                "yes",
                "HF_HUB_ETAG_TIMEOUT",
                "2.5",
                "HF_HUB_DOWNLOAD_TIMEOUT",
                "30"));
        assertEquals(URI.create("http://mirror.local:8080/hf"), s.endpoint());
        assertEquals(Optional.of("hf_abc"), s.token());
        assertEquals("HF_TOKEN", s.tokenSource());
        assertTrue(s.offline());
        assertFalse(s.progressBars());
        assertEquals(Duration.ofMillis(2500), s.metadataTimeout());
        assertEquals(Duration.ofSeconds(30), s.downloadTimeout());
        assertFalse(s.toString().contains("hf_abc"), s.toString());
        assertFalse(HubSettings.fromEnvironment(env("HF_HUB_OFFLINE", "0")).offline());

        assertEquals(
                Optional.of("hf_legacy"),
                HubSettings.fromEnvironment(env("HUGGING_FACE_HUB_TOKEN", "hf_legacy"))
                        .token());
        Path hfHome = Files.createDirectories(tmp.resolve("hfhome"));
        Files.writeString(hfHome.resolve("token"), "hf_fromfile\n");
        HubSettings fromFile = HubSettings.fromEnvironment(env("HF_HOME", hfHome.toString()));
        assertEquals(Optional.of("hf_fromfile"), fromFile.token());
        assertTrue(fromFile.tokenSource().contains(hfHome.resolve("token").toString()));
        Files.writeString(tmp.resolve("elsewhere"), "hf_path");
        assertEquals(
                Optional.of("hf_path"),
                HubSettings.fromEnvironment(env(
                                "HF_HOME",
                                hfHome.toString(),
                                "HF_TOKEN_PATH",
                                tmp.resolve("elsewhere").toString()))
                        .token());
    }

    @Test
    void malformedValuesNameTheirVariable() {
        assertLoupe(() -> HubSettings.fromEnvironment(env("HF_ENDPOINT", "ftp://x")), "HF_ENDPOINT", "ftp://x");
        assertLoupe(() -> HubSettings.fromEnvironment(env("HF_ENDPOINT", "https://u:p@host")), "HF_ENDPOINT");
        assertLoupe(() -> HubSettings.fromEnvironment(env("HF_ENDPOINT", "not a url")), "HF_ENDPOINT");
        assertLoupe(
                () -> HubSettings.fromEnvironment(env("HF_HUB_DOWNLOAD_TIMEOUT", "soon")),
                "HF_HUB_DOWNLOAD_TIMEOUT",
                "soon");
        assertLoupe(() -> HubSettings.fromEnvironment(env("HF_HUB_ETAG_TIMEOUT", "-1")), "HF_HUB_ETAG_TIMEOUT");
        LoupeException e =
                assertLoupe(() -> HubSettings.fromEnvironment(env("HF_TOKEN", "hf_a b")), "HF_TOKEN", "header");
        assertFalse(e.getMessage().contains("hf_a b"));
    }

    @Test
    void repoIdsAndRevisionsAreValidated() {
        assertEquals(new RepoRef("gpt2", "main"), RepoRef.parse("gpt2"));
        assertEquals(new RepoRef("EleutherAI/pythia-70m", "step1000"), RepoRef.parse("EleutherAI/pythia-70m@step1000"));
        assertEquals(new RepoRef("a/b", "refs/pr/1"), RepoRef.parse("a/b@refs/pr/1"));
        assertEquals(
                "models--EleutherAI--pythia-70m",
                RepoRef.parse("EleutherAI/pythia-70m").cacheFolderName());
        assertTrue(RepoRef.parse("x@" + HubTestSupport.COMMIT).isPinned());
        assertFalse(RepoRef.isCommitHash("ABCDEF0123456789abcdef0123456789abcdef01"));
        for (String bad : List.of(
                "",
                "/gpt2",
                "gpt2/",
                "a/b/c",
                "a--b",
                "a..b",
                "-a",
                "a.",
                "x.git",
                "a b",
                "../x",
                "x".repeat(97),
                "ä")) {
            assertLoupe(() -> RepoRef.parse(bad), "not a valid Hugging Face repo id");
        }
        for (String bad : List.of(
                "gpt2@",
                "gpt2@../x",
                "gpt2@a//b",
                "gpt2@/main",
                "gpt2@main/",
                "gpt2@.hidden",
                "gpt2@a b",
                "gpt2@x:y",
                "gpt2@a@b",
                "gpt2@x.lock",
                "gpt2@\u0000")) {
            assertLoupe(() -> RepoRef.parse(bad), "not a valid revision");
        }
        assertLoupe(() -> RepoRef.parse(null), "got null");
    }

    @Test
    void parsingRandomTextOnlyEverFailsWithLoupeException() {
        Random random = new Random(20240611);
        String alphabet = "ab/.-_@~:\\ 0\u0000é";
        long end = System.nanoTime() + 1_500_000_000L;
        int parsed = 0;
        while (System.nanoTime() < end) {
            StringBuilder sb = new StringBuilder();
            int n = random.nextInt(12);
            for (int i = 0; i < n; i++) {
                sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            try {
                RepoRef ref = RepoRef.parse(sb.toString());
                Path dir = new HubCache(tmp)
                        .repoDir(ref.repoId())
                        .resolve("refs")
                        .resolve(ref.revision())
                        .normalize();
                assertTrue(dir.startsWith(tmp), "stays inside the cache: " + sb);
                parsed++;
            } catch (LoupeException expected) {
                // fine
            }
        }
        assertTrue(parsed > 0);
    }

    @Test
    void urlsArePercentEncodedLikeHuggingfaceHub() {
        HubClient client =
                new HubClient(HubSettings.of(tmp, URI.create("https://hub.example/base")), DownloadProgress.NONE);
        assertEquals(
                URI.create("https://hub.example/base/org/m/resolve/refs%2Fpr%2F1/sub/a%20b%2Bc.json"),
                client.resolveUrl(new RepoRef("org/m", "refs/pr/1"), "sub/a b+c.json"));
        assertEquals("ETag", HubClient.normalizeEtag("ETag"));
        assertEquals("abc", HubClient.normalizeEtag("W/\"abc\""));
        assertTrue(HubClient.sameOrigin(URI.create("https://h/x"), URI.create("https://H:443/y")));
        assertFalse(HubClient.sameOrigin(URI.create("https://h/x"), URI.create("http://h/y")));
        assertFalse(HubClient.sameOrigin(URI.create("http://h:1/x"), URI.create("http://h:2/y")));
    }

    @Test
    void theProgressBarDrawsOneLineInPlace() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong clock = new AtomicLong(0);
        DownloadProgress bar =
                DownloadProgress.onTerminal(new PrintStream(bytes, true, StandardCharsets.UTF_8), clock::get);
        bar.started("model.safetensors", 100_000_000, 20_000_000);
        clock.set(2_000_000_000L);
        bar.advanced(60_000_000); // 40 MB in 2 s
        assertEquals(
                "model.safetensors" + " ".repeat(28 - 17 + 2)
                        + "[############........]  60%  60.0/100.0 MB  20.0 MB/s  ETA 0:02",
                lastLine(bytes));
        clock.set(2_050_000_000L);
        bar.advanced(61_000_000); // within 100 ms of the last draw: not drawn
        clock.set(4_000_000_000L);
        bar.advanced(100_000_000);
        bar.finished(true);
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(4, out.chars().filter(c -> c == '\r').count(), out);
        assertFalse(out.contains("61.0/"), out);
        assertTrue(out.endsWith("100%  100.0/100.0 MB  20.0 MB/s  ETA 0:00\n"), out);
        assertEquals(1, out.chars().filter(c -> c == '\n').count());

        String longName = "a-very-long-directory-name/and-a-long-file-name.safetensors";
        bar.started(longName, 0, 0);
        assertTrue(
                lastLine(bytes).startsWith("..." + longName.substring(longName.length() - 25) + "  0.0 MB"),
                lastLine(bytes));
        clock.set(5_000_000_000L);
        bar.advanced(1_000_000);
        bar.finished(false);
        assertTrue(lastLine(bytes).endsWith("1.0 MB  1.0 MB/s  (interrupted)"), lastLine(bytes));
        assertEquals(
                DownloadProgress.NONE,
                DownloadProgress.forTerminal(HubSettings.fromEnvironment(env("HF_HUB_DISABLE_PROGRESS_BARS", "1"))));
    }

    /** The last line drawn: what follows the last carriage return, without the padding. */
    private static String lastLine(ByteArrayOutputStream bytes) {
        String out = bytes.toString(StandardCharsets.UTF_8).stripTrailing();
        return out.substring(out.lastIndexOf('\r') + 1).stripTrailing();
    }
}
