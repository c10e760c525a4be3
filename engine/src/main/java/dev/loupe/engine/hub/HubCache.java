package dev.loupe.engine.hub;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The Hugging Face hub cache on disk, in the layout huggingface_hub and transformers use, so a
 * model downloaded by Python is found by Loupe and the other way round:
 *
 * <pre>
 * &lt;root&gt;/models--org--name/
 *     refs/&lt;revision&gt;                 a file holding the commit hash the revision pointed to
 *     blobs/&lt;etag&gt;                    file contents, named by ETag (the SHA-256 for LFS files,
 *                                      the git blob hash for small ones)
 *     blobs/&lt;etag&gt;.incomplete         a download in progress or cut off; never used as a file
 *     snapshots/&lt;commit&gt;/&lt;filename&gt;  a relative symlink to ../../blobs/&lt;etag&gt; (a plain copy
 *                                      where the file system has no symlinks)
 *     .no_exist/&lt;commit&gt;/&lt;filename&gt;  an empty marker: the repository has no such file
 * &lt;root&gt;/.locks/models--org--name/&lt;etag&gt;.lock
 * </pre>
 *
 * <p>Reading accepts both symlinked and plain-file snapshots. Every write is atomic (a temporary
 * name renamed into place), so a crash never leaves a half-written ref, blob or snapshot entry.
 */
public final class HubCache {

    private final Path root;
    private final boolean symlinks;

    /** The cache at {@code root} (need not exist yet). */
    public HubCache(Path root) {
        this(root, true);
    }

    /** {@code symlinks=false} forces the copying fallback; for tests of file systems without links. */
    HubCache(Path root, boolean symlinks) {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.symlinks = symlinks;
    }

    /** The cache the environment points at (see {@link HubSettings#fromEnvironment(Map)}). */
    public static HubCache fromEnvironment(Map<String, String> env) {
        return HubSettings.fromEnvironment(env).cache();
    }

    public Path root() {
        return root;
    }

    /** {@code <root>/models--org--name}. */
    public Path repoDir(String repoId) {
        return root.resolve(RepoRef.of(repoId).cacheFolderName());
    }

    /** {@code <root>/models--org--name/snapshots/<commit>}, whether or not it exists. */
    public Path snapshotDir(String repoId, String commit) {
        if (!RepoRef.isCommitHash(commit)) {
            throw new LoupeException(
                    "snapshot of '" + repoId + "': expected a 40-hex commit hash, got '" + commit + "'");
        }
        return repoDir(repoId).resolve("snapshots").resolve(commit);
    }

    /**
     * The commit {@code revision} stands for in this cache: the revision itself if it is a commit
     * hash, else the content of {@code refs/<revision>} if that holds one.
     */
    public Optional<String> commitHash(String repoId, String revision) {
        RepoRef ref = new RepoRef(repoId, revision);
        if (ref.isPinned()) {
            return Optional.of(revision);
        }
        Path refFile = refFile(ref);
        try {
            if (!Files.isRegularFile(refFile)) {
                return Optional.empty();
            }
            String commit = Files.readString(refFile, StandardCharsets.UTF_8).strip();
            // A ref that does not hold a commit hash is treated as missing (and rewritten on the next download).
            return RepoRef.isCommitHash(commit) ? Optional.of(commit) : Optional.empty();
        } catch (IOException e) {
            throw new LoupeException(refFile + ": could not read the cached ref: " + e, e);
        }
    }

    /**
     * The snapshot folder of {@code repoId} at {@code revision} if it is complete for Loupe:
     * {@code config.json} and the safetensors weights (either {@code model.safetensors} or
     * {@code model.safetensors.index.json} and every shard it names) are present and readable.
     * Tokenizer files are optional and not checked. Nothing is fetched.
     *
     * @throws LoupeException if the repo id or revision is invalid, or a cached index is malformed
     */
    public Optional<Path> snapshot(String repoId, String revision) {
        return snapshot(new RepoRef(repoId, revision));
    }

    public Optional<Path> snapshot(RepoRef ref) {
        return missing(ref) == null
                ? commitHash(ref.repoId(), ref.revision()).map(c -> snapshotDir(ref.repoId(), c))
                : Optional.empty();
    }

    /** Why {@link #snapshot} finds nothing, in words, or null if it finds a complete snapshot. */
    String missing(RepoRef ref) {
        Optional<String> commit = commitHash(ref.repoId(), ref.revision());
        if (commit.isEmpty()) {
            return "no ref " + refFile(ref) + " (this revision was never downloaded)";
        }
        Path dir = snapshotDir(ref.repoId(), commit.get());
        if (!Files.isDirectory(dir)) {
            return "no snapshot folder " + dir;
        }
        if (!isFile(dir, RepoFiles.CONFIG)) {
            return "snapshot " + dir + " has no " + RepoFiles.CONFIG;
        }
        if (isFile(dir, RepoFiles.WEIGHTS)) {
            return null;
        }
        if (!isFile(dir, RepoFiles.WEIGHTS_INDEX)) {
            return "snapshot " + dir + " has neither " + RepoFiles.WEIGHTS + " nor " + RepoFiles.WEIGHTS_INDEX;
        }
        List<String> shards;
        try {
            shards = RepoFiles.shards(dir.resolve(RepoFiles.WEIGHTS_INDEX));
        } catch (LoupeException e) {
            throw new LoupeException(
                    e.getMessage() + " (a damaged cache entry: delete " + dir + " to download the snapshot again)", e);
        }
        for (String shard : shards) {
            if (!isFile(dir, shard)) {
                return "snapshot " + dir + " lacks the weight shard " + shard;
            }
        }
        return null;
    }

    /** Whether {@code snapshots/<commit>/<filename>} is a readable file (a symlink is followed). */
    boolean hasFile(String repoId, String commit, String filename) {
        return isFile(snapshotDir(repoId, commit), filename);
    }

    private static boolean isFile(Path dir, String filename) {
        Path p = dir.resolve(filename);
        return Files.isRegularFile(p) && Files.isReadable(p);
    }

    Path refFile(RepoRef ref) {
        return repoDir(ref.repoId()).resolve("refs").resolve(ref.revision());
    }

    /** Records that {@code revision} points at {@code commit}; no-op for a commit-hash revision. */
    void writeRef(RepoRef ref, String commit) {
        if (ref.isPinned()
                || commit.equals(commitHash(ref.repoId(), ref.revision()).orElse(null))) {
            return;
        }
        Path refFile = refFile(ref);
        createDirectories(refFile.getParent());
        byte[] bytes = commit.getBytes(StandardCharsets.US_ASCII);
        AtomicFileWriter.write(refFile, ch -> ch.write(ByteBuffer.wrap(bytes)));
    }

    /** {@code blobs/<etag>}. */
    Path blob(String repoId, String etag) {
        return repoDir(repoId).resolve("blobs").resolve(etag);
    }

    /** {@code blobs/<etag>.incomplete}: where a download of that blob accumulates. */
    Path incomplete(String repoId, String etag) {
        return repoDir(repoId).resolve("blobs").resolve(etag + ".incomplete");
    }

    /** {@code <root>/.locks/models--org--name/<etag>.lock}, as huggingface_hub names it. */
    Path lockFile(String repoId, String etag) {
        return root.resolve(".locks")
                .resolve(RepoRef.of(repoId).cacheFolderName())
                .resolve(etag + ".lock");
    }

    Path noExistMarker(String repoId, String commit, String filename) {
        return repoDir(repoId).resolve(".no_exist").resolve(commit).resolve(filename);
    }

    boolean isMarkedAbsent(String repoId, String commit, String filename) {
        return Files.exists(noExistMarker(repoId, commit, filename));
    }

    /** Remembers that the repository has no {@code filename} at {@code commit}, so it is not asked again. */
    void markAbsent(String repoId, String commit, String filename) {
        Path marker = noExistMarker(repoId, commit, filename);
        createDirectories(marker.getParent());
        try {
            Files.createFile(marker);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // already known
        } catch (IOException e) {
            throw new LoupeException(marker + ": could not write the cache marker: " + e, e);
        }
    }

    /**
     * Makes {@code snapshots/<commit>/<filename>} point at {@code blobs/<etag>}: a relative symlink
     * (like huggingface_hub) put in place with an atomic rename, or, where symlinks cannot be
     * made, an atomically placed copy of the blob.
     */
    void link(String repoId, String commit, String filename, String etag) {
        Path target = snapshotDir(repoId, commit).resolve(filename);
        Path blob = blob(repoId, etag);
        Path dir = target.getParent();
        createDirectories(dir);
        Path temp = dir.resolve("." + target.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            if (symlinks && tryCreateSymlink(temp, dir.relativize(blob))) {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return;
            }
            Files.copy(blob, temp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new LoupeException(
                    target + ": could not place " + filename + " in the snapshot (from " + blob + "): " + e, e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // a leftover hidden temporary name is harmless
            }
        }
    }

    private static boolean tryCreateSymlink(Path link, Path relativeTarget) {
        try {
            Files.createSymbolicLink(link, relativeTarget);
            return true;
        } catch (UnsupportedOperationException | FileSystemException | SecurityException e) {
            // e.g. Windows without developer mode, or a file system without links: copy instead.
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LoupeException(dir + ": could not create the cache folder: " + e, e);
        }
    }
}
