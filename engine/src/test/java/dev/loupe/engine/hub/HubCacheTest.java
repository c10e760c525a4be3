package dev.loupe.engine.hub;

import static dev.loupe.engine.hub.HubTestSupport.COMMIT;
import static dev.loupe.engine.hub.HubTestSupport.assertLoupe;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading caches laid out by huggingface_hub (symlinked) or copied around (plain files). */
class HubCacheTest {

    @TempDir
    Path tmp;

    private HubCache cache;
    private Path repo;
    private Path snap;

    @BeforeEach
    void setUp() throws IOException {
        cache = new HubCache(tmp.resolve("hub"));
        repo = tmp.resolve("hub/models--EleutherAI--pythia-70m");
        snap = repo.resolve("snapshots").resolve(COMMIT);
        Files.createDirectories(snap);
        Files.createDirectories(repo.resolve("blobs"));
        Files.createDirectories(repo.resolve("refs"));
    }

    private void blobAndLink(String filename, String etag, String content) throws IOException {
        Files.writeString(repo.resolve("blobs").resolve(etag), content);
        Path link = snap.resolve(filename);
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(
                link, link.getParent().relativize(repo.resolve("blobs").resolve(etag)));
    }

    @Test
    void aSymlinkedSnapshotAsPythonWritesItIsFound() throws IOException {
        Files.writeString(repo.resolve("refs/main"), COMMIT + "\n");
        blobAndLink("config.json", "a".repeat(40), "{}");
        assertEquals(Optional.empty(), cache.snapshot("EleutherAI/pythia-70m", "main"), "no weights yet");
        assertTrue(cache.missing(RepoRef.of("EleutherAI/pythia-70m")).contains("neither model.safetensors"));
        blobAndLink("model.safetensors", "b".repeat(64), "weights");
        assertEquals(Optional.of(snap), cache.snapshot("EleutherAI/pythia-70m", "main"));
        assertEquals(Optional.of(snap), cache.snapshot("EleutherAI/pythia-70m", COMMIT));
        assertEquals(Optional.of(COMMIT), cache.commitHash("EleutherAI/pythia-70m", "main"));
        assertEquals(Optional.empty(), cache.snapshot("EleutherAI/pythia-70m", "other-branch"));

        Files.delete(repo.resolve("blobs").resolve("b".repeat(64)));
        assertEquals(
                Optional.empty(), cache.snapshot("EleutherAI/pythia-70m", "main"), "a dangling link is not a file");
    }

    @Test
    void aPlainFileSnapshotIsFound() throws IOException {
        Files.writeString(repo.resolve("refs/main"), COMMIT);
        Files.writeString(snap.resolve("config.json"), "{}");
        Files.writeString(snap.resolve("model.safetensors"), "weights");
        assertEquals(Optional.of(snap), cache.snapshot("EleutherAI/pythia-70m", "main"));
    }

    @Test
    void aShardedSnapshotNeedsEveryShard() throws IOException {
        Files.writeString(repo.resolve("refs/main"), COMMIT);
        Files.writeString(snap.resolve("config.json"), "{}");
        Files.writeString(
                snap.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"sub/s2.safetensors\"}}");
        blobAndLink("s1.safetensors", "c".repeat(64), "1");
        assertTrue(cache.missing(RepoRef.of("EleutherAI/pythia-70m")).contains("sub/s2.safetensors"));
        blobAndLink("sub/s2.safetensors", "d".repeat(64), "2");
        assertEquals(Optional.of(snap), cache.snapshot("EleutherAI/pythia-70m", "main"));
    }

    @Test
    void badRefsAndIndexesAreHandled() throws IOException {
        Files.writeString(repo.resolve("refs/main"), "not a commit");
        Files.writeString(snap.resolve("config.json"), "{}");
        Files.writeString(snap.resolve("model.safetensors"), "w");
        assertEquals(
                Optional.empty(), cache.snapshot("EleutherAI/pythia-70m", "main"), "a garbled ref counts as missing");

        Files.writeString(repo.resolve("refs/main"), COMMIT);
        Files.delete(snap.resolve("model.safetensors"));
        Files.writeString(snap.resolve("model.safetensors.index.json"), "{\"weight_map\": [1]}");
        assertLoupe(
                () -> cache.snapshot("EleutherAI/pythia-70m", "main"), "model.safetensors.index.json", "weight_map");
        Files.writeString(snap.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"/etc/passwd\"}}");
        assertLoupe(() -> cache.snapshot("EleutherAI/pythia-70m", "main"), "/etc/passwd", "not allowed");
        Files.writeString(snap.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"a\": 3}}");
        assertLoupe(() -> cache.snapshot("EleutherAI/pythia-70m", "main"), "weight_map[\"a\"]");
        Files.writeString(snap.resolve("model.safetensors.index.json"), "{not json");
        assertLoupe(() -> cache.snapshot("EleutherAI/pythia-70m", "main"), "not a readable safetensors index");
    }

    @Test
    void layoutNamesFollowHuggingfaceHub() {
        assertEquals(tmp.resolve("hub/models--gpt2"), cache.repoDir("gpt2"));
        assertEquals(
                tmp.resolve("hub/models--EleutherAI--pythia-70m/snapshots/" + COMMIT),
                cache.snapshotDir("EleutherAI/pythia-70m", COMMIT));
        assertEquals(tmp.resolve("hub/models--gpt2/refs/refs/pr/1"), cache.refFile(new RepoRef("gpt2", "refs/pr/1")));
        assertEquals(tmp.resolve("hub/.locks/models--gpt2/abc.lock"), cache.lockFile("gpt2", "abc"));
        assertLoupe(() -> cache.snapshotDir("gpt2", "main"), "40-hex commit");
    }

    @Test
    void writtenRefsAndMarkersAreReadBack() {
        RepoRef pr = new RepoRef("gpt2", "refs/pr/1");
        cache.writeRef(pr, COMMIT);
        assertEquals(Optional.of(COMMIT), cache.commitHash("gpt2", "refs/pr/1"));
        cache.writeRef(pr.at(COMMIT), COMMIT); // pinned: nothing to write
        cache.markAbsent("gpt2", COMMIT, "vocab.json");
        cache.markAbsent("gpt2", COMMIT, "vocab.json");
        assertTrue(cache.isMarkedAbsent("gpt2", COMMIT, "vocab.json"));
    }
}
