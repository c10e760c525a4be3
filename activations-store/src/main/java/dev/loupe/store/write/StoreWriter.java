package dev.loupe.store.write;

import dev.loupe.engine.LoupeException;
import dev.loupe.store.BackgroundThread;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.StoreManifest.FileEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes a store, shard by shard, crash-safely. A shard is built in {@code shards/.NNNNN.partial/}
 * by a {@link ShardBuilder}: one streamed file per hook, then {@code rows.safetensors} (token id,
 * sequence, position per row) and {@code stats.safetensors} (per-hook sums for the summaries). When it
 * is full, every file is forced to disk, the folder is renamed to {@code shards/NNNNN} in one atomic
 * rename, and the manifest — which alone decides what the store holds — is replaced atomically with the shard listed.
 * Whatever moment the process dies, the store on disk is the last manifest written, and everything
 * it lists is complete. Opening a store for writing again removes leftovers and resumes after the
 * last committed shard.
 *
 * <p>Commits run on a background thread, one at a time and in shard order, while the caller fills the
 * next shard: the disk writes one shard back while the next is produced, instead of the harvest
 * stopping at every fsync. At most one full shard waits for its commit; a failed commit is reported
 * by the next call.
 *
 * <p>A distributed harvest builds and publishes shards elsewhere (one task each) and lists them here,
 * in corpus order, with {@link #commitPublished}.
 */
public final class StoreWriter implements AutoCloseable {
    public static final String SHARDS = "shards";
    public static final String ROWS_FILE = "rows", STATS_FILE = "stats";
    /**
     * Stats-file tensors {@code <hook>.row_min} / {@code <hook>.row_max}: each row's min and max as
     * stored (NaN for a row holding a NaN). Stores written before they existed lack them.
     */
    public static final String ROW_MIN = "row_min", ROW_MAX = "row_max";

    private final Path dir;
    private final StoreLock lock;
    /** The last manifest written: committed shards only. Replaced by the commit thread. */
    private volatile StoreManifest manifest;

    private ShardBuilder shard;
    /** Shards started and sequences appended, committed or not. */
    private int shardsStarted;

    private long sequencesAppended;
    private final ExecutorService committer = BackgroundThread.named("loupe-store-commit");
    private Future<?> committing;
    private boolean closed;

    private StoreWriter(Path dir, StoreLock lock, StoreManifest manifest) {
        this.dir = dir;
        this.lock = lock;
        this.manifest = manifest;
        this.shardsStarted = manifest.shards().size();
        this.sequencesAppended = manifest.sequences();
    }

    /**
     * Opens {@code dir} for writing: creates the store from {@code spec} (a manifest without shards),
     * or, when the folder already holds a store, checks that it was made with the same model, hooks,
     * dtype, context, corpus and parameters, and continues it. Holds the store's lock until closed.
     */
    public static StoreWriter open(Path dir, StoreManifest spec) {
        try {
            Files.createDirectories(dir.resolve(SHARDS));
        } catch (IOException e) {
            throw new LoupeException(dir + ": cannot create the store folder: " + e.getMessage(), e);
        }
        StoreLock lock = StoreLock.acquire(dir);
        try {
            StoreManifest m;
            if (Files.exists(dir.resolve(StoreManifest.FILE))) {
                m = StoreManifest.read(dir);
                requireSame(dir, m, spec);
            } else {
                m = spec;
                m.write(dir);
            }
            removeLeftovers(dir, m);
            return new StoreWriter(dir, lock, m);
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private static void requireSame(Path dir, StoreManifest have, StoreManifest want) {
        String where = dir + " already holds a store ";
        if (!have.model().equals(want.model()))
            throw new LoupeException(
                    where + "harvested from another model (" + have.model().id() + ", config hash "
                            + have.model().configHash() + ", weights crc32c "
                            + have.model().weightsCrc32c() + "); this run uses "
                            + want.model().id() + " (" + want.model().configHash() + ", "
                            + want.model().weightsCrc32c()
                            + "). Use another --out folder.");
        check(where, "hooks", have.hooks(), want.hooks());
        check(where, "dtype", have.dtype(), want.dtype());
        check(where, "context size", have.contextSize(), want.contextSize());
        check(where, "corpus", have.corpus(), want.corpus());
        check(where, "harvest parameters", have.creation(), want.creation());
    }

    private static void check(String where, String what, Object have, Object want) {
        if (!have.equals(want))
            throw new LoupeException(where + "with other " + what + ": it has " + have + ", this run asks for " + want
                    + ". Resuming needs the same parameters; use another --out folder for a new store.");
    }

    /** Deletes partial shard folders and shard folders the manifest does not list (a crash after rename, before the manifest). */
    private static void removeLeftovers(Path dir, StoreManifest m) {
        Path shards = dir.resolve(SHARDS);
        try (Stream<Path> s = Files.list(shards)) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString();
                boolean listed = name.matches("\\d{5,}")
                        && Integer.parseInt(name) < m.shards().size();
                if (!listed) ShardBuilder.deleteTree(p);
            }
        } catch (IOException e) {
            throw new LoupeException(shards + ": cannot clean up after an interrupted harvest: " + e.getMessage(), e);
        }
    }

    public StoreManifest manifest() {
        return manifest;
    }

    /** Sequences already committed: a resumed harvest skips this many. */
    public long committedSequences() {
        return manifest.sequences();
    }

    public boolean complete() {
        return manifest.complete();
    }

    /** Sequences appended but not yet committed (the shard being built and one being committed). */
    public long pendingSequences() {
        return sequencesAppended - manifest.sequences();
    }

    /**
     * Appends whole sequences: {@code tokens} [n][context] and, per hook, its activations for them
     * ([n, context, ...] or [n·context, d], any float type; rounded to the store's dtype here). The
     * shard is committed once it holds {@code creation.shardSequences} sequences.
     */
    public void append(Map<String, INDArray> activations, int[][] tokens) {
        if (closed) throw new IllegalStateException("writer closed");
        if (manifest.complete())
            throw new LoupeException(dir + ": the store is complete; nothing more can be appended");
        try {
            if (committing != null && committing.isDone()) awaitCommit(); // report a failed commit at once
            if (shard == null) shard = ShardBuilder.start(dir, manifest, shardsStarted++, sequencesAppended, null);
            shard.append(activations, tokens);
            sequencesAppended += tokens.length;
            if (shard.sequences() >= manifest.creation().shardSequences()) commitInBackground();
        } catch (IOException e) {
            throw writeFailed(e);
        } catch (RuntimeException e) {
            abortShard();
            throw e;
        }
    }

    /**
     * Lists a shard that a distributed task built and published ({@link ShardBuilder#publish}) in the
     * manifest: shards are committed in corpus order, so it must be the next one. Its files are
     * checked to exist with the recorded sizes first: a folder the manifest lists is never missing
     * (it would be if the task wrote to a disk this machine does not see).
     */
    public void commitPublished(StoreManifest.ShardInfo s) {
        if (closed) throw new IllegalStateException("writer closed");
        if (shard != null || committing != null)
            throw new IllegalStateException("commitPublished while shards are appended here");
        if (s.index() != manifest.shards().size() || s.firstSequence() != manifest.sequences())
            throw new IllegalStateException("shard " + s.index() + " (from sequence " + s.firstSequence()
                    + ") is not the next one: the store has "
                    + manifest.shards().size() + " shards, "
                    + manifest.sequences() + " sequences");
        for (FileEntry f : s.files().values()) {
            Path p = dir.resolve(f.path());
            long size;
            try {
                size = Files.size(p);
            } catch (IOException e) {
                size = -1;
            }
            if (size != f.bytes())
                throw new LoupeException(dir + ": shard " + s.index() + " was written, but " + p
                        + (size < 0 ? " does not exist" : " has " + size + " bytes, not " + f.bytes())
                        + " here: the store folder must be on a filesystem that every executor and the driver share");
        }
        StoreManifest next = manifest.withShard(s);
        next.write(dir);
        manifest = next;
        shardsStarted = manifest.shards().size();
        sequencesAppended = manifest.sequences();
    }

    /** Commits the last (possibly short) shard, waits for every commit and marks the store complete. */
    public void finish() {
        try {
            if (shard != null && shard.sequences() > 0) commitInBackground();
            awaitCommit();
        } catch (IOException e) {
            throw writeFailed(e);
        }
        manifest = manifest.completed();
        manifest.write(dir);
        removeLeftovers(dir, manifest); // copies of shards that distributed tasks started and did not finish
    }

    /** Hands the full shard to the commit thread, after the previous commit is done (one in flight). */
    private void commitInBackground() throws IOException {
        awaitCommit();
        ShardBuilder s = shard;
        shard = null;
        committing = committer.submit(() -> {
            try {
                commit(s);
            } catch (IOException | RuntimeException e) {
                s.close();
                throw new CommitFailed(s.index(), e);
            }
            return null;
        });
    }

    /** Waits for the commit in flight; its failure is rethrown here, as an IOException when it was one. */
    private void awaitCommit() throws IOException {
        Future<?> f = committing;
        if (f == null) return;
        committing = null;
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for shard commit", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IOException(e.getCause());
        }
    }

    /** A background commit's failure, naming its shard. */
    private static final class CommitFailed extends IOException {
        final int shard;

        CommitFailed(int shard, Exception cause) {
            super(cause.getMessage(), cause);
            this.shard = shard;
        }
    }

    private LoupeException writeFailed(IOException e) {
        int index = e instanceof CommitFailed c
                ? c.shard
                : shard == null ? manifest.shards().size() : shard.index();
        try {
            awaitCommit(); // the message reports the store as it is once nothing is in flight
        } catch (IOException | RuntimeException ignored) {
            // the earlier commit failed too; the manifest says what is committed
        }
        abortShard();
        sequencesAppended = manifest.sequences(); // what is not committed is produced again, here or on resume
        shardsStarted = manifest.shards().size();
        return new LoupeException(
                dir + ": writing shard " + index + " failed (" + e.getMessage()
                        + "). The store is consistent: it holds "
                        + manifest.shards().size() + " committed shards, " + manifest.rows() + " rows ("
                        + manifest.sequences()
                        + " sequences). Free space and run the same command again to resume from there.",
                e);
    }

    /** Runs on the commit thread: publishes the shard's folder, then writes the manifest that lists it. */
    private void commit(ShardBuilder s) throws IOException {
        StoreManifest.ShardInfo info = s.publish().info();
        s.close();
        StoreManifest next = manifest.withShard(info);
        try {
            next.write(dir);
        } catch (LoupeException e) {
            throw new IOException(e.getMessage(), e); // the renamed folder is unlisted: removed on resume
        }
        manifest = next;
    }

    public static String shardName(int index) {
        return String.format("%05d", index);
    }

    private void abortShard() {
        if (shard == null) return;
        shard.close();
        sequencesAppended -= shard.sequences();
        shardsStarted--;
        shard = null;
    }

    /**
     * Lets a commit in flight complete (its shard is whole), discards an unfinished shard (its rows
     * are produced again on resume) and releases the lock.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            awaitCommit();
        } catch (IOException | RuntimeException ignored) {
            // nothing more to report: the manifest on disk lists what was committed
        }
        committer.shutdown();
        abortShard();
        lock.close();
    }
}
