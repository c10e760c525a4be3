package dev.loupe.store.write;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.ShardChecksum;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.StoreManifest.FileEntry;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * One shard being built, the one place where shard files are written. Both the single-machine writer
 * ({@link StoreWriter}) and a distributed harvest's tasks build their shards with it. A shard is built
 * in a hidden folder {@code shards/.NNNNN[.ATTEMPT].partial/}: one streamed file per hook, then
 * {@code rows.safetensors} (token id, sequence, position per row) and {@code stats.safetensors}
 * (per-hook sums for the summaries). {@link #publish} forces every file to disk and renames the folder
 * to {@code shards/NNNNN} in one atomic rename: a shard folder under its final name is always complete.
 * Listing it in the manifest is the caller's business (the writer's commit).
 *
 * <p>A shard's content is a function of its sequences, so several copies of one shard (a retried or
 * speculative task) are interchangeable: the first to be renamed wins, and a later copy finding the
 * name taken adopts the one on disk ({@link Published#adopted()}) and removes its own.
 */
public final class ShardBuilder implements AutoCloseable {
    private final Path shards;
    private final int index;
    private final long firstSequence;
    private final Path temp;
    private final StoreDType dtype;
    private final int context;
    private final List<StoreManifest.HookInfo> hooks;
    private final Map<String, ShardFile> files = new LinkedHashMap<>();
    private final Map<String, double[]> sum = new LinkedHashMap<>(), sumSq = new LinkedHashMap<>();
    private final Map<String, double[]> normSum = new LinkedHashMap<>();
    private final Map<String, List<float[]>> rowMin = new LinkedHashMap<>(), rowMax = new LinkedHashMap<>();
    private final List<int[]> tokens = new ArrayList<>();
    private final Map<String, INDArray> scratch = new HashMap<>();
    private int sequences;
    private boolean finished;

    /** A published shard: its manifest entry, and whether another copy of it was already in place. */
    public record Published(StoreManifest.ShardInfo info, boolean adopted, boolean sameBytes) {}

    private ShardBuilder(Path store, StoreManifest spec, int index, long firstSequence, String attempt)
            throws IOException {
        this.shards = store.resolve(StoreWriter.SHARDS);
        this.index = index;
        this.firstSequence = firstSequence;
        this.dtype = spec.storeDType();
        this.context = spec.contextSize();
        this.hooks = spec.hooks();
        this.temp = shards.resolve(
                "." + StoreWriter.shardName(index) + (attempt == null ? "" : "." + attempt) + ".partial");
        deleteTree(temp);
        Files.createDirectories(temp);
        for (StoreManifest.HookInfo h : hooks) {
            files.put(h.name(), new ShardFile(temp.resolve(h.name() + ".safetensors"), dtype, h.d()));
            sum.put(h.name(), new double[h.d()]);
            sumSq.put(h.name(), new double[h.d()]);
            normSum.put(h.name(), new double[1]);
            rowMin.put(h.name(), new ArrayList<>());
            rowMax.put(h.name(), new ArrayList<>());
        }
    }

    /**
     * Starts shard {@code index} of the store in {@code store} made by {@code spec} (hooks, dtype,
     * context), holding sequences from {@code firstSequence} on. {@code attempt} names the hidden
     * folder of this copy when several may be built at once (distributed tasks); null for the only one.
     */
    public static ShardBuilder start(Path store, StoreManifest spec, int index, long firstSequence, String attempt)
            throws IOException {
        return new ShardBuilder(store, spec, index, firstSequence, attempt);
    }

    public int index() {
        return index;
    }

    /** Sequences appended so far. */
    public int sequences() {
        return sequences;
    }

    /**
     * Appends whole sequences: {@code tokens} [n][context] and, per hook, its activations for them
     * ([n, context, ...] or [n·context, d], any float type; rounded to the store's dtype here).
     * Bad shapes or hooks are a {@link LoupeException}; a failed write an {@link IOException}.
     */
    public void append(Map<String, INDArray> activations, int[][] tokens) throws IOException {
        int n = tokens.length;
        for (int[] t : tokens)
            if (t.length != context)
                throw new LoupeException(
                        "append: a sequence has " + t.length + " tokens, the store's context is " + context);
        if (!activations.keySet().equals(new HashSet<>(files.keySet())))
            throw new LoupeException(
                    "append: activations for " + activations.keySet() + ", the store holds " + files.keySet());
        for (StoreManifest.HookInfo h : hooks) append(h, activations.get(h.name()), (long) n * context);
        for (int[] t : tokens) this.tokens.add(t.clone());
        sequences += n;
    }

    private void append(StoreManifest.HookInfo h, INDArray a, long rows) throws IOException {
        if (a.length() != rows * h.d())
            throw new LoupeException("append: hook " + h.name() + " has shape " + java.util.Arrays.toString(a.shape())
                    + ", expected " + rows + " rows of d = " + h.d());
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
     * c-ordered [rows, d] array was 10x slower and made statistics the writer's bottleneck. Also each
     * row's min and max as stored (rounding to the storage dtype is monotonic, so the rounded min is
     * the min of the rounded values), NaN for a row holding a NaN: a Parquet export's statistics
     * without a pass over the values.
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
        float[] nanRow = norms.toFloatVector(); // a NaN anywhere in a row makes its norm NaN
        rowMin.get(hook).add(rowBound(f.min(1), nanRow));
        rowMax.get(hook).add(rowBound(f.max(1), nanRow));
        NativeBytes.free(norms);
        if (f != flat) NativeBytes.free(f);
    }

    /** Per-row min or max [rows] as the store holds the values; NaN where the row's norm is NaN. Frees {@code bound}. */
    private float[] rowBound(INDArray bound, float[] norms) {
        float[] out;
        if (dtype.nd4j() == DataType.FLOAT) out = bound.toFloatVector();
        else {
            INDArray stored = bound.castTo(dtype.nd4j()), back = stored.castTo(DataType.FLOAT);
            out = back.toFloatVector();
            NativeBytes.free(stored);
            NativeBytes.free(back);
        }
        NativeBytes.free(bound);
        for (int r = 0; r < out.length; r++) if (Float.isNaN(norms[r])) out[r] = Float.NaN;
        return out;
    }

    /** A float32 buffer reused across appends of the same size (ones: filled with 1). */
    private INDArray scratch(String name, long rows, long cols, boolean ones) {
        return scratch.computeIfAbsent(
                name + " " + rows + "x" + cols,
                k -> ones ? Nd4j.ones(DataType.FLOAT, rows, cols) : Nd4j.create(DataType.FLOAT, rows, cols));
    }

    private static void add(double[] into, double[] x) {
        for (int i = 0; i < into.length; i++) into[i] += x[i];
    }

    /**
     * Completes the files, forces them to disk and renames the folder to {@code shards/NNNNN} (then
     * forces the parent). When that name is already a complete copy of this shard, that copy is
     * kept and this one removed. Returns the shard's manifest entry.
     */
    public Published publish() throws IOException {
        String name = StoreWriter.shardName(index);
        Map<String, FileEntry> entries = new LinkedHashMap<>();
        for (StoreManifest.HookInfo h : hooks)
            entries.put(h.name(), files.get(h.name()).finish(path(name, h.name())));
        entries.put(StoreWriter.ROWS_FILE, writeRows(name));
        entries.put(StoreWriter.STATS_FILE, writeStats(name));
        finished = true;
        force(temp);
        Path target = shards.resolve(name);
        boolean adopted = false, same = true;
        try {
            if (Files.exists(target)) throw new FileAlreadyExistsException(target.toString());
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Map<String, FileEntry> onDisk = completeCopy(target, entries);
            if (onDisk == null) throw e; // not a copy of this shard: a real failure
            deleteTree(temp);
            same = onDisk.equals(entries);
            entries = onDisk;
            adopted = true;
        }
        force(shards);
        StoreManifest.ShardInfo info = new StoreManifest.ShardInfo(
                index, firstSequence * context, (long) sequences * context, firstSequence, sequences, entries);
        return new Published(info, adopted, same);
    }

    /**
     * The entries of the shard folder {@code target} when it holds every file this shard has, of the
     * same size (a complete copy: folders get their final name only once complete), else null.
     * Checksums are read from the files on disk, which are what the manifest must describe.
     */
    private static Map<String, FileEntry> completeCopy(Path target, Map<String, FileEntry> mine) {
        if (!Files.isDirectory(target)) return null;
        Map<String, FileEntry> out = new LinkedHashMap<>();
        for (Map.Entry<String, FileEntry> e : mine.entrySet()) {
            Path f = target.resolve(Path.of(e.getValue().path()).getFileName().toString());
            try {
                if (!Files.isRegularFile(f) || Files.size(f) != e.getValue().bytes()) return null;
                long offset = ShardChecksum.dataOffset(f);
                out.put(
                        e.getKey(),
                        new FileEntry(e.getValue().path(), Files.size(f), offset, ShardChecksum.ofData(f, offset)));
            } catch (IOException | LoupeException x) {
                return null;
            }
        }
        return out;
    }

    private static String path(String shardName, String file) {
        return StoreWriter.SHARDS + "/" + shardName + "/" + file + ".safetensors";
    }

    private FileEntry writeRows(String name) throws IOException {
        int rows = Math.toIntExact((long) sequences * context);
        int[] tok = new int[rows], pos = new int[rows];
        long[] seq = new long[rows];
        for (int i = 0; i < sequences; i++)
            for (int p = 0; p < context; p++) {
                int r = i * context + p;
                tok[r] = tokens.get(i)[p];
                pos[r] = p;
                seq[r] = firstSequence + i;
            }
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("tokens", Nd4j.createFromArray(tok));
        t.put("sequence", Nd4j.createFromArray(seq));
        t.put("position", Nd4j.createFromArray(pos));
        return small(name, StoreWriter.ROWS_FILE, t);
    }

    private FileEntry writeStats(String name) throws IOException {
        Map<String, INDArray> t = new LinkedHashMap<>();
        for (String h : files.keySet()) {
            t.put(h + ".sum", Nd4j.createFromArray(sum.get(h)));
            t.put(h + ".sum_sq", Nd4j.createFromArray(sumSq.get(h)));
            t.put(h + ".norm_sum", Nd4j.createFromArray(normSum.get(h)));
            t.put(h + "." + StoreWriter.ROW_MIN, Nd4j.createFromArray(concat(rowMin.get(h))));
            t.put(h + "." + StoreWriter.ROW_MAX, Nd4j.createFromArray(concat(rowMax.get(h))));
        }
        return small(name, StoreWriter.STATS_FILE, t);
    }

    private static float[] concat(List<float[]> parts) {
        float[] out = new float[parts.stream().mapToInt(p -> p.length).sum()];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private FileEntry small(String shardName, String file, Map<String, INDArray> tensors) throws IOException {
        Path p = temp.resolve(file + ".safetensors");
        try {
            SafetensorsWriter.write(p, tensors, Map.of("format", StoreManifest.FORMAT));
            long offset = ShardChecksum.dataOffset(p);
            return new FileEntry(path(shardName, file), Files.size(p), offset, ShardChecksum.ofData(p, offset));
        } catch (LoupeException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    static void force(Path directory) {
        try (FileChannel d = FileChannel.open(directory, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // fsync of a directory is Linux-specific; elsewhere the rename is as durable as the OS makes it
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /** Discards an unpublished shard: its files are closed and its hidden folder removed. */
    @Override
    public void close() {
        if (!finished) files.values().forEach(ShardFile::abort);
        finished = true;
        try {
            deleteTree(temp);
        } catch (IOException ignored) {
            // removed by the next open of the store for writing
        }
        scratch.values().forEach(NativeBytes::free);
        scratch.clear();
    }
}
