package dev.loupe.store.write;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.store.BackgroundThread;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.ShardChecksum;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.StoreManifest.FileEntry;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Writes a store, shard by shard, crash-safely. A shard is built in {@code shards/.NNNNN.partial/}:
 * one streamed file per hook, then {@code rows.safetensors} (token id, sequence, position per row)
 * and {@code stats.safetensors} (per-hook sums for the summaries). When it is full, every file is
 * forced to disk, the folder is renamed to {@code shards/NNNNN} in one atomic rename, and the
 * manifest — which alone decides what the store holds — is replaced atomically with the shard listed.
 * Whatever moment the process dies, the store on disk is the last manifest written, and everything
 * it lists is complete. Opening a store for writing again removes leftovers and resumes after the
 * last committed shard.
 *
 * <p>Commits run on a background thread, one at a time and in shard order, while the caller fills the
 * next shard: the disk writes one shard back while the next is produced, instead of the harvest
 * stopping at every fsync. At most one full shard waits for its commit; a failed commit is reported
 * by the next call.
 */
public final class StoreWriter implements AutoCloseable {
    public static final String SHARDS = "shards";
    public static final String ROWS_FILE = "rows", STATS_FILE = "stats";

    private final Path dir;
    private final StoreLock lock;
    private final StoreDType dtype;
    private final int context;
    /** The last manifest written: committed shards only. Replaced by the commit thread. */
    private volatile StoreManifest manifest;

    private Shard shard;
    /** Shards started and sequences appended, committed or not. */
    private int shardsStarted;

    private long sequencesAppended;
    private final ExecutorService committer = BackgroundThread.named("loupe-store-commit");
    private Future<?> committing;
    private final Map<String, INDArray> scratch = new java.util.HashMap<>();
    private boolean closed;

    private StoreWriter(Path dir, StoreLock lock, StoreManifest manifest) {
        this.dir = dir;
        this.lock = lock;
        this.manifest = manifest;
        this.dtype = manifest.storeDType();
        this.context = manifest.contextSize();
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
                if (!listed) deleteTree(p);
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
        int n = tokens.length;
        for (int[] t : tokens)
            if (t.length != context)
                throw new LoupeException(
                        "append: a sequence has " + t.length + " tokens, the store's context is " + context);
        if (!activations.keySet().equals(new java.util.HashSet<>(manifest.hookNames())))
            throw new LoupeException(
                    "append: activations for " + activations.keySet() + ", the store holds " + manifest.hookNames());
        try {
            if (committing != null && committing.isDone()) awaitCommit(); // report a failed commit at once
            if (shard == null) shard = new Shard(shardsStarted++);
            for (StoreManifest.HookInfo h : manifest.hooks())
                shard.append(h, activations.get(h.name()), (long) n * context);
            shard.addTokens(tokens, sequencesAppended);
            sequencesAppended += n;
            if (shard.sequences >= manifest.creation().shardSequences()) commitInBackground();
        } catch (IOException e) {
            throw writeFailed(e);
        } catch (RuntimeException e) {
            abortShard();
            throw e;
        }
    }

    /** Commits the last (possibly short) shard, waits for every commit and marks the store complete. */
    public void finish() {
        try {
            if (shard != null && shard.sequences > 0) commitInBackground();
            awaitCommit();
        } catch (IOException e) {
            throw writeFailed(e);
        }
        manifest = manifest.completed();
        manifest.write(dir);
    }

    /** Hands the full shard to the commit thread, after the previous commit is done (one in flight). */
    private void commitInBackground() throws IOException {
        awaitCommit();
        Shard s = shard;
        shard = null;
        committing = committer.submit(() -> {
            try {
                commit(s);
            } catch (IOException | RuntimeException e) {
                deleteQuietly(s);
                throw new CommitFailed(s.index, e);
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
                : shard == null ? manifest.shards().size() : shard.index;
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

    /** Runs on the commit thread: completes the shard's files, forces them, renames, writes the manifest. */
    private void commit(Shard s) throws IOException {
        Map<String, FileEntry> files = new LinkedHashMap<>();
        String name = shardName(s.index);
        for (StoreManifest.HookInfo h : manifest.hooks())
            files.put(h.name(), s.files.get(h.name()).finish(SHARDS + "/" + name + "/" + h.name() + ".safetensors"));
        files.put(ROWS_FILE, s.writeRows(name));
        files.put(STATS_FILE, s.writeStats(name));
        force(s.temp);
        Path target = dir.resolve(SHARDS).resolve(name);
        Files.move(s.temp, target, StandardCopyOption.ATOMIC_MOVE);
        force(dir.resolve(SHARDS));
        long rows = (long) s.sequences * context;
        StoreManifest next = manifest.withShard(
                new StoreManifest.ShardInfo(s.index, manifest.rows(), rows, manifest.sequences(), s.sequences, files));
        try {
            next.write(dir);
        } catch (LoupeException e) {
            throw new IOException(e.getMessage(), e); // the renamed folder is unlisted: removed on resume
        }
        manifest = next;
    }

    /** A float32 buffer reused across appends of the same size (ones: filled with 1). */
    private INDArray scratch(String name, long rows, long cols, boolean ones) {
        return scratch.computeIfAbsent(
                name + " " + rows + "x" + cols,
                k -> ones ? Nd4j.ones(DataType.FLOAT, rows, cols) : Nd4j.create(DataType.FLOAT, rows, cols));
    }

    public static String shardName(int index) {
        return String.format("%05d", index);
    }

    private static void force(Path directory) {
        try (FileChannel d = FileChannel.open(directory, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // fsync of a directory is Linux-specific; elsewhere the rename is as durable as the OS makes it
        }
    }

    private void abortShard() {
        if (shard == null) return;
        deleteQuietly(shard);
        sequencesAppended -= shard.sequences;
        shardsStarted--;
        shard = null;
    }

    private static void deleteQuietly(Shard s) {
        s.files.values().forEach(ShardFile::abort);
        try {
            deleteTree(s.temp);
        } catch (IOException ignored) {
            // removed by the next open
        }
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

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /** The shard being built. */
    private final class Shard {
        final int index;
        final Path temp;
        final Map<String, ShardFile> files = new LinkedHashMap<>();
        final Map<String, double[]> sum = new LinkedHashMap<>(), sumSq = new LinkedHashMap<>();
        final Map<String, double[]> normSum = new LinkedHashMap<>();
        final List<int[]> tokens = new ArrayList<>();
        final List<Long> firstSequence = new ArrayList<>();
        int sequences;

        Shard(int index) throws IOException {
            this.index = index;
            this.temp = dir.resolve(SHARDS).resolve("." + shardName(index) + ".partial");
            deleteTree(temp);
            Files.createDirectories(temp);
            for (StoreManifest.HookInfo h : manifest.hooks()) {
                files.put(h.name(), new ShardFile(temp.resolve(h.name() + ".safetensors"), dtype, h.d()));
                sum.put(h.name(), new double[h.d()]);
                sumSq.put(h.name(), new double[h.d()]);
                normSum.put(h.name(), new double[1]);
            }
        }

        void append(StoreManifest.HookInfo h, INDArray a, long rows) throws IOException {
            if (a.length() != rows * h.d())
                throw new LoupeException("append: hook " + h.name() + " has shape "
                        + java.util.Arrays.toString(a.shape()) + ", expected " + rows + " rows of d = " + h.d());
            INDArray flat = a.reshape('c', rows, h.d()); // [rows, d]; a view when a is dense
            accumulateStats(h.name(), flat);
            INDArray stored = flat.dataType() == dtype.nd4j() ? flat : flat.castTo(dtype.nd4j());
            INDArray dense = NativeBytes.viewable(stored) ? stored : stored.dup('c');
            try {
                files.get(h.name()).append(NativeBytes.of(dense));
            } finally {
                java.lang.ref.Reference.reachabilityFence(dense);
                if (stored != flat) NativeBytes.free(stored);
                if (dense != stored) NativeBytes.free(dense);
            }
        }

        /**
         * Sums for the summaries, from the float32 values as computed (before rounding to the storage
         * dtype). Column sums are GEMMs with a row of ones into reused buffers: ND4J's sum(0) over a
         * c-ordered [rows, d] array was 10x slower and made statistics the writer's bottleneck.
         */
        private void accumulateStats(String hook, INDArray flat) {
            INDArray f = flat.dataType() == DataType.FLOAT && NativeBytes.viewable(flat)
                    ? flat
                    : flat.castTo(DataType.FLOAT).dup('c');
            long n = f.size(0), d = f.size(1);
            INDArray ones = scratch("ones", 1, n, true); // [1, rows]
            INDArray sq = scratch("sq " + d, n, d, false); // [rows, d]
            INDArray s = scratch("s " + d, 1, d, false), ss = scratch("ss " + d, 1, d, false); // [1, d]
            f.mul(f, sq);
            Nd4j.gemm(ones, f, s, false, false, 1, 0);
            Nd4j.gemm(ones, sq, ss, false, false, 1, 0);
            INDArray norms = Transforms.sqrt(sq.sum(1), false); // [rows]
            add(sum.get(hook), s.toDoubleVector());
            add(sumSq.get(hook), ss.toDoubleVector());
            normSum.get(hook)[0] += norms.sumNumber().doubleValue();
            NativeBytes.free(norms);
            if (f != flat) NativeBytes.free(f);
        }

        private static void add(double[] into, double[] x) {
            for (int i = 0; i < into.length; i++) into[i] += x[i];
        }

        void addTokens(int[][] seqs, long firstSeq) {
            for (int i = 0; i < seqs.length; i++) {
                tokens.add(seqs[i].clone());
                firstSequence.add(firstSeq + i);
            }
            sequences += seqs.length;
        }

        FileEntry writeRows(String name) throws IOException {
            int rows = Math.toIntExact((long) sequences * context);
            int[] tok = new int[rows], pos = new int[rows];
            long[] seq = new long[rows];
            for (int i = 0; i < sequences; i++)
                for (int p = 0; p < context; p++) {
                    int r = i * context + p;
                    tok[r] = tokens.get(i)[p];
                    pos[r] = p;
                    seq[r] = firstSequence.get(i);
                }
            Map<String, INDArray> t = new LinkedHashMap<>();
            t.put("tokens", Nd4j.createFromArray(tok));
            t.put("sequence", Nd4j.createFromArray(seq));
            t.put("position", Nd4j.createFromArray(pos));
            return small(name, ROWS_FILE, t);
        }

        FileEntry writeStats(String name) throws IOException {
            Map<String, INDArray> t = new LinkedHashMap<>();
            for (String h : files.keySet()) {
                t.put(h + ".sum", Nd4j.createFromArray(sum.get(h)));
                t.put(h + ".sum_sq", Nd4j.createFromArray(sumSq.get(h)));
                t.put(h + ".norm_sum", Nd4j.createFromArray(normSum.get(h)));
            }
            return small(name, STATS_FILE, t);
        }

        private FileEntry small(String shardName, String file, Map<String, INDArray> tensors) throws IOException {
            Path p = temp.resolve(file + ".safetensors");
            try {
                SafetensorsWriter.write(p, tensors, Map.of("format", StoreManifest.FORMAT));
                long offset = ShardChecksum.dataOffset(p);
                return new FileEntry(
                        SHARDS + "/" + shardName + "/" + file + ".safetensors",
                        Files.size(p),
                        offset,
                        ShardChecksum.ofData(p, offset));
            } catch (LoupeException e) {
                throw new IOException(e.getMessage(), e);
            }
        }
    }
}
