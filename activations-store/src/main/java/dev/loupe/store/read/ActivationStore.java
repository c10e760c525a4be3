package dev.loupe.store.read;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.TensorInfo;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.ShardChecksum;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.StoreManifest.FileEntry;
import dev.loupe.store.StoreManifest.ShardInfo;
import dev.loupe.store.stats.HookStatistics;
import dev.loupe.store.write.StoreWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A store opened for reading: its committed rows, memory-mapped. Rows come back as float32 ND4J
 * arrays {@code [n, d]} whatever the storage dtype; a row is one token of one sequence, with its
 * token id, sequence index and position alongside ({@link #tokens}, {@link #sequences}, {@link #positions}).
 * <pre>{@code
 * try (ActivationStore store = ActivationStore.open(dir)) {
 *     INDArray x = store.rows("blocks.3.hook_resid_post", 0, 4096);          // [4096, d]
 *     try (ShuffledStream s = store.shuffled("blocks.3.hook_resid_post", ShuffleConfig.of(4096, 1_000_000, 0))) {
 *         while (s.hasNext()) train(s.next());                               // [4096, d] batches
 *     }
 * }
 * }</pre>
 * A store being harvested can be opened at the same time: it shows the shards committed so far.
 */
public final class ActivationStore implements AutoCloseable {
    private final Path dir;
    private final StoreManifest manifest;
    private final long[] firstRow; // per shard, plus the total at the end
    private final Map<String, MappedByteBuffer[]> mapped = new LinkedHashMap<>();
    private final ShardRows[] rowCache;
    private final Map<String, RowBounds[]> boundsCache = new LinkedHashMap<>();

    /** Per-shard token id, sequence and position of each row. */
    private record ShardRows(int[] tokens, long[] sequence, int[] position) {}

    /** Per-shard min and max of each row of one hook; null arrays when the store predates them. */
    private record RowBounds(float[] min, float[] max) {}

    /** The smallest and largest value of some rows (NaN when one of them holds a NaN). */
    public record ValueRange(float min, float max) {
        public boolean hasNaN() {
            return Float.isNaN(min) || Float.isNaN(max);
        }
    }

    /** Where some rows' stored bytes are: {@code bytes} bytes of {@code file} from {@code offset}. */
    public record FileRange(Path file, long offset, long bytes) {}

    private ActivationStore(Path dir, StoreManifest manifest) {
        this.dir = dir;
        this.manifest = manifest;
        List<ShardInfo> shards = manifest.shards();
        firstRow = new long[shards.size() + 1];
        for (int i = 0; i < shards.size(); i++)
            firstRow[i + 1] = firstRow[i] + shards.get(i).rows();
        for (String h : manifest.hookNames()) mapped.put(h, new MappedByteBuffer[shards.size()]);
        rowCache = new ShardRows[shards.size()];
    }

    /** Opens a store with {@link Verify#FAST} checks. */
    public static ActivationStore open(Path dir) {
        return open(dir, Verify.FAST, ProgressBar.silent());
    }

    /** Opens a store; {@code progress} shows a {@link Verify#FULL} check as it reads. */
    public static ActivationStore open(Path dir, Verify verify, ProgressBar progress) {
        StoreManifest m = StoreManifest.read(dir);
        verify(dir, m, verify, progress);
        return new ActivationStore(dir, m);
    }

    /** Like {@link #open(Path)}, also checking the store was harvested from the model with this config hash. */
    public static ActivationStore openFor(Path dir, String configHash) {
        ActivationStore s = open(dir);
        if (!s.manifest.model().configHash().equals(configHash)) {
            s.close();
            throw new LoupeException(dir + ": the store was harvested from another model ("
                    + s.manifest.model().id() + ", config hash "
                    + s.manifest.model().configHash() + "), not one with config hash " + configHash);
        }
        return s;
    }

    private static void verify(Path dir, StoreManifest m, Verify verify, ProgressBar progress) {
        long total = 0, done = 0;
        if (verify == Verify.FULL)
            for (ShardInfo s : m.shards()) for (FileEntry f : s.files().values()) total += f.bytes();
        for (ShardInfo s : m.shards()) {
            for (Map.Entry<String, FileEntry> e : s.files().entrySet()) {
                FileEntry f = e.getValue();
                Path p = dir.resolve(f.path());
                String what = p + " (shard " + s.index() + ", " + e.getKey() + ")";
                long size;
                try {
                    size = Files.size(p);
                } catch (IOException ex) {
                    throw new LoupeException(
                            what + ": missing or unreadable (" + ex.getMessage() + "); the store is damaged");
                }
                if (size != f.bytes())
                    throw new LoupeException(what + ": has " + size + " bytes, the manifest recorded " + f.bytes()
                            + " (truncated or replaced); the store is damaged");
                boolean hook = m.hookNames().contains(e.getKey());
                if (hook) checkHeader(what, p, f, m.storeDType(), s.rows(), m.d(e.getKey()));
                if (!hook || verify == Verify.FULL) {
                    String crc = ShardChecksum.ofData(p, f.dataOffset());
                    if (!crc.equals(f.crc32c()))
                        throw new LoupeException(what + ": checksum mismatch: CRC32C of the data is " + crc
                                + ", the manifest recorded " + f.crc32c() + "; the shard is corrupted");
                }
                done += verify == Verify.FULL ? f.bytes() : 0;
                progress.update(done, "shard " + s.index());
            }
        }
    }

    private static void checkHeader(String what, Path p, FileEntry f, StoreDType dtype, long rows, int d) {
        try (SafetensorsReader r = SafetensorsReader.open(p)) {
            TensorInfo t = r.info("activations");
            if (!t.dtype().name().equals(dtype.safetensorsName())
                    || !Arrays.equals(t.shape(), new long[] {rows, d})
                    || t.begin() != 0
                    || f.dataOffset() + t.end() != f.bytes())
                throw new LoupeException(what + ": header says " + t + ", expected " + dtype.safetensorsName() + " ["
                        + rows + ", " + d + "] at data offset " + f.dataOffset() + "; the shard is corrupted");
        } catch (LoupeException e) {
            if (e.getMessage().startsWith(what)) throw e;
            throw new LoupeException(what + ": damaged header: " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    public StoreManifest manifest() {
        return manifest;
    }

    /** Committed rows (= tokens). */
    public long rows() {
        return manifest.rows();
    }

    public List<String> hooks() {
        return manifest.hookNames();
    }

    public int d(String hook) {
        return manifest.d(hook);
    }

    public StoreDType dtype() {
        return manifest.storeDType();
    }

    // ------------------------------------------------------------------ rows

    /** One row as float32 [d]. */
    public INDArray row(String hook, long row) {
        return rows(hook, row, 1).reshape(d(hook));
    }

    /** Rows [from, from + count) as float32 [count, d]; they may span shards. */
    public INDArray rows(String hook, long from, int count) {
        INDArray out =
                Nd4j.createUninitializedDetached(dtype().nd4j(), 'c', count, d(hook)); // [count, d] storage dtype
        copyRows(hook, from, count, NativeBytes.of(out));
        NativeBytes.written(out);
        return toFloat(out);
    }

    /**
     * Copies rows [from, from + count) as stored (storage dtype, little-endian, row after row) into
     * {@code dst} at its position, which advances: bulk copies from the memory-mapped shards, for
     * callers that keep stored bytes (exports). Safe to call from several threads.
     */
    public void copyRows(String hook, long from, int count, ByteBuffer dst) {
        long rowBytes = checkCopy("copyRows", hook, from, count, dst);
        long r = from;
        while (r < from + count) {
            int s = shardOf(r);
            long inShard = r - firstRow[s];
            int n = (int) Math.min(from + count - r, firstRow[s + 1] - r);
            dst.put(dst.position(), data(hook, s), (int) (inShard * rowBytes), (int) (n * rowBytes));
            dst.position(dst.position() + (int) (n * rowBytes));
            r += n;
        }
    }

    /**
     * Copies rows [from, from + count) as stored into {@code dst} at its position, which advances,
     * like {@link #copyRows}, but with positional file reads instead of the mapping: for one pass
     * over the store (exports). A mapping's first touch costs a page fault per 4 KB (measured on this
     * project's VMs: 0.70 s per GB against 0.20 s for reads into a reused buffer); repeated passes
     * (probe and SAE training) are better served by the mapping, whose pages stay mapped.
     */
    public void readRows(String hook, long from, int count, ByteBuffer dst) {
        checkCopy("readRows", hook, from, count, dst);
        for (FileRange f : fileRanges(hook, from, count)) {
            ByteBuffer part = dst.slice(dst.position(), (int) f.bytes());
            try (FileChannel ch = FileChannel.open(f.file(), StandardOpenOption.READ)) {
                while (part.hasRemaining()) {
                    int got = ch.read(part, f.offset() + part.position());
                    if (got < 0)
                        throw new LoupeException(f.file() + ": ends at byte " + (f.offset() + part.position()) + ", "
                                + part.remaining() + " bytes of hook " + hook + " short (the shard is truncated)");
                }
            } catch (IOException e) {
                throw new LoupeException(f.file() + ": cannot read: " + e.getMessage(), e);
            }
            dst.position(dst.position() + (int) f.bytes());
        }
    }

    /**
     * The files and byte ranges holding rows [from, from + count) of {@code hook} as stored (one range
     * per shard they span), for exports that copy them file to file ({@code FileChannel.transferTo}).
     */
    public List<FileRange> fileRanges(String hook, long from, int count) {
        checkRange(from, count);
        long rowBytes = (long) d(hook) * dtype().width();
        List<FileRange> out = new java.util.ArrayList<>();
        for (long r = from; r < from + count; ) {
            int s = shardOf(r);
            int n = (int) Math.min(from + count - r, firstRow[s + 1] - r);
            FileEntry f = manifest.shards().get(s).files().get(hook);
            out.add(new FileRange(shardFile(s, hook), f.dataOffset() + (r - firstRow[s]) * rowBytes, n * rowBytes));
            r += n;
        }
        return out;
    }

    /**
     * The min and max of {@code hook}'s values in rows [from, from + count), from the per-row bounds
     * recorded at harvest time (no pass over the rows); null when the store was harvested before
     * those were recorded.
     */
    public ValueRange valueRange(String hook, long from, int count) {
        d(hook);
        float[] range = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        boolean[] recorded = {true};
        copyPerShard(from, count, (s, at, i, n) -> {
            RowBounds b = rowBounds(hook, s);
            if (b.min == null) recorded[0] = false;
            else
                for (int r = at; r < at + n; r++) {
                    // Math.min/max: a NaN row bound makes the range NaN
                    range[0] = Math.min(range[0], b.min[r]);
                    range[1] = Math.max(range[1], b.max[r]);
                }
        });
        return recorded[0] ? new ValueRange(range[0], range[1]) : null;
    }

    private synchronized RowBounds rowBounds(String hook, int shard) {
        RowBounds[] cache = boundsCache.computeIfAbsent(hook, h -> new RowBounds[shardCount()]);
        if (cache[shard] == null) {
            Path p = shardFile(shard, StoreWriter.STATS_FILE);
            try (SafetensorsReader r = SafetensorsReader.open(p)) {
                String min = hook + "." + StoreWriter.ROW_MIN, max = hook + "." + StoreWriter.ROW_MAX;
                long rows = manifest.shards().get(shard).rows();
                if (!r.contains(min) || !r.contains(max)) cache[shard] = new RowBounds(null, null);
                else {
                    cache[shard] = new RowBounds(r.readFloats(min), r.readFloats(max));
                    if (cache[shard].min.length != rows || cache[shard].max.length != rows)
                        throw new LoupeException(p + ": " + min + "/" + max + " hold " + cache[shard].min.length
                                + "/" + cache[shard].max.length + " values, expected one per row (" + rows
                                + "); the store is damaged");
                }
            }
        }
        return cache[shard];
    }

    /** Checks a copy of rows [from, from + count) into {@code dst}; returns the bytes of one row. */
    private long checkCopy(String method, String hook, long from, int count, ByteBuffer dst) {
        checkRange(from, count);
        long rowBytes = (long) d(hook) * dtype().width();
        if (dst.remaining() < count * rowBytes)
            throw new IllegalArgumentException(
                    method + ": " + dst.remaining() + " bytes left in the buffer, " + count * rowBytes + " needed");
        return rowBytes;
    }

    static INDArray toFloat(INDArray stored) {
        if (stored.dataType() == DataType.FLOAT) return stored;
        INDArray f = stored.castTo(DataType.FLOAT);
        NativeBytes.free(stored);
        return f;
    }

    /** Sequential batches of {@code batchSize} rows (the last may be shorter), float32 [batch, d]. */
    public Iterator<INDArray> batches(String hook, int batchSize) {
        d(hook);
        if (batchSize < 1) throw new LoupeException("batches: batch size must be >= 1, got " + batchSize);
        return new Iterator<>() {
            long next = 0;

            @Override
            public boolean hasNext() {
                return next < rows();
            }

            @Override
            public INDArray next() {
                if (!hasNext()) throw new NoSuchElementException();
                int n = (int) Math.min(batchSize, rows() - next);
                INDArray b = rows(hook, next, n);
                next += n;
                return b;
            }
        };
    }

    /** A shuffled stream of one hook's rows through a bounded mixing buffer; see {@link ShuffledStream}. */
    public ShuffledStream shuffled(String hook, ShuffleConfig config) {
        d(hook);
        return new ShuffledStream(this, hook, config);
    }

    /** Token ids of rows [from, from + count). */
    public int[] tokens(long from, int count) {
        int[] out = new int[count];
        copyPerShard(from, count, (s, at, i, n) -> System.arraycopy(shardRows(s).tokens, at, out, i, n));
        return out;
    }

    /** Sequence index (in corpus order) of rows [from, from + count). */
    public long[] sequences(long from, int count) {
        long[] out = new long[count];
        copyPerShard(from, count, (s, at, i, n) -> System.arraycopy(shardRows(s).sequence, at, out, i, n));
        return out;
    }

    /** Position within its sequence of rows [from, from + count). */
    public int[] positions(long from, int count) {
        int[] out = new int[count];
        copyPerShard(from, count, (s, at, i, n) -> System.arraycopy(shardRows(s).position, at, out, i, n));
        return out;
    }

    /** A run of {@code n} rows of shard {@code shard}, from its row {@code at}, for output index {@code i}. */
    private interface ShardRun {
        void copy(int shard, int at, int i, int n);
    }

    /** Rows [from, from + count) as one run per shard they span. */
    private void copyPerShard(long from, int count, ShardRun run) {
        checkRange(from, count);
        for (int i = 0; i < count; ) {
            long r = from + i;
            int s = shardOf(r);
            int n = (int) Math.min(count - i, firstRow[s + 1] - r);
            run.copy(s, (int) (r - firstRow[s]), i, n);
            i += n;
        }
    }

    /** Per-hook statistics from the per-shard sums written at harvest time (no pass over the rows). */
    public HookStatistics statistics(String hook) {
        int d = d(hook);
        double[] sum = new double[d], sumSq = new double[d];
        double normSum = 0;
        for (ShardInfo s : manifest.shards()) {
            try (SafetensorsReader r = SafetensorsReader.open(
                    dir.resolve(s.files().get(StoreWriter.STATS_FILE).path()))) {
                add(sum, r.read(hook + ".sum").toDoubleVector());
                add(sumSq, r.read(hook + ".sum_sq").toDoubleVector());
                normSum += r.read(hook + ".norm_sum").getDouble(0);
            }
        }
        return HookStatistics.fromSums(hook, rows(), sum, sumSq, normSum);
    }

    /** One row per hook (count, mean norm, mean, mean variance); see {@link HookStatistics#table}. */
    public tech.tablesaw.api.Table summary() {
        return HookStatistics.table(hooks().stream().map(this::statistics).toList());
    }

    private static void add(double[] into, double[] x) {
        for (int i = 0; i < into.length; i++) into[i] += x[i];
    }

    // ------------------------------------------------------------------ shards

    int shardCount() {
        return manifest.shards().size();
    }

    long firstRow(int shard) {
        return firstRow[shard];
    }

    int shardOf(long row) {
        int i = Arrays.binarySearch(firstRow, row);
        return i >= 0 ? i : -i - 2;
    }

    /** The data section of one hook's file in one shard, mapped read-only. */
    synchronized ByteBuffer data(String hook, int shard) {
        MappedByteBuffer[] maps = mapped.get(hook);
        if (maps[shard] == null) {
            FileEntry f = manifest.shards().get(shard).files().get(hook);
            Path p = dir.resolve(f.path());
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                maps[shard] = ch.map(FileChannel.MapMode.READ_ONLY, f.dataOffset(), f.bytes() - f.dataOffset());
                maps[shard].order(ByteOrder.LITTLE_ENDIAN);
            } catch (IOException e) {
                throw new LoupeException(p + ": cannot map: " + e.getMessage(), e);
            }
        }
        return maps[shard];
    }

    /** The path of one of a shard's files ({@link StoreWriter#ROWS_FILE}, {@link StoreWriter#STATS_FILE}, a hook). */
    private Path shardFile(int shard, String file) {
        return dir.resolve(manifest.shards().get(shard).files().get(file).path());
    }

    private synchronized ShardRows shardRows(int shard) {
        if (rowCache[shard] == null) {
            Path p = shardFile(shard, StoreWriter.ROWS_FILE);
            try (SafetensorsReader r = SafetensorsReader.open(p)) {
                // Java arrays straight from the file: an export of a store's rows needs no ND4J
                rowCache[shard] = new ShardRows(r.readInts("tokens"), r.readLongs("sequence"), r.readInts("position"));
            }
        }
        return rowCache[shard];
    }

    private void checkRange(long from, int count) {
        if (from < 0 || count < 0 || from + count > rows())
            throw new LoupeException(
                    dir + ": rows [" + from + ", " + (from + count) + ") are outside the store's " + rows() + " rows");
    }

    /** Drops the mappings (they are unmapped when collected). Arrays already returned stay valid. */
    @Override
    public synchronized void close() {
        mapped.values().forEach(a -> Arrays.fill(a, null));
    }
}
