package dev.loupe.store.export;

import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest.FileEntry;
import dev.loupe.store.StoreManifest.ShardInfo;
import dev.loupe.store.read.ActivationStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Exports a store as numpy files: {@code <hook>.npy} [rows, d] per hook, float32 (float16 for an f16
 * store when kept; numpy has no bfloat16, so bf16 rows are always float32), plus {@code tokens.npy}
 * (int32), {@code sequence.npy} (int64) and {@code position.npy} (int32), one entry per row. Each
 * file is streamed shard by shard (f32 shards, and f16 shards kept as f16, are copied byte for byte)
 * and replaced atomically; {@code np.load(path, mmap_mode="r")} maps them without reading. {@link
 * StoreExport} writes a whole export folder at once.
 */
public final class NpyExport {
    private static final int CHUNK_ROWS = 16384;

    private NpyExport() {}

    /** Writes the files into {@code out} (created if needed), activations as float32, and returns their paths. */
    public static List<Path> export(ActivationStore store, Path out, List<String> hooks, ProgressBar progress) {
        return export(store, out, hooks, false, progress);
    }

    /**
     * Writes the files into {@code out} (created if needed); {@code keepF16}: an f16 store's rows stay
     * float16. {@code progress} counts activation bytes written.
     */
    public static List<Path> export(
            ActivationStore store, Path out, List<String> hooks, boolean keepF16, ProgressBar progress) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new dev.loupe.engine.LoupeException(out + ": cannot create folder: " + e.getMessage(), e);
        }
        List<Path> written = new ArrayList<>();
        long rows = store.rows();
        long[] done = {0};
        for (String hook : hooks) {
            int d = store.d(hook);
            DataType type = keepF16 && store.dtype() == StoreDType.F16 ? DataType.HALF : DataType.FLOAT;
            boolean copy = type == store.dtype().nd4j();
            long rowBytes = (long) d * type.width();
            Path file = out.resolve(hook + ".npy");
            AtomicFileWriter.write(file, ch -> {
                write(ch, ByteBuffer.wrap(NpyWriter.preamble(type, new long[] {rows, d})));
                for (ShardInfo s : store.manifest().shards()) {
                    if (copy) {
                        FileEntry f = s.files().get(hook);
                        try (FileChannel in =
                                FileChannel.open(store.dir().resolve(f.path()), StandardOpenOption.READ)) {
                            long pos = f.dataOffset(), end = f.bytes();
                            while (pos < end) pos += in.transferTo(pos, end - pos, ch);
                        }
                    } else {
                        for (long r = s.firstRow(); r < s.firstRow() + s.rows(); r += CHUNK_ROWS) {
                            int n = (int) Math.min(CHUNK_ROWS, s.firstRow() + s.rows() - r);
                            INDArray x = store.rows(hook, r, n); // [n, d] float32
                            write(ch, NativeBytes.of(x));
                            java.lang.ref.Reference.reachabilityFence(x);
                            NativeBytes.free(x);
                        }
                    }
                    done[0] += s.rows() * rowBytes;
                    progress.update(done[0], hook);
                }
            });
            written.add(file);
        }
        // the row columns go from Java arrays to the file: exporting f32 rows needs no ND4J (starting its
        // native library took 0.5 s)
        written.add(column(
                store, out.resolve("tokens.npy"), DataType.INT, s -> ints(store.tokens(s.firstRow(), (int) s.rows()))));
        written.add(column(
                store,
                out.resolve("sequence.npy"),
                DataType.LONG,
                s -> longs(store.sequences(s.firstRow(), (int) s.rows()))));
        written.add(column(
                store,
                out.resolve("position.npy"),
                DataType.INT,
                s -> ints(store.positions(s.firstRow(), (int) s.rows()))));
        return written;
    }

    private static Path column(
            ActivationStore store,
            Path file,
            DataType type,
            java.util.function.Function<ShardInfo, ByteBuffer> values) {
        AtomicFileWriter.write(file, ch -> {
            write(ch, ByteBuffer.wrap(NpyWriter.preamble(type, new long[] {store.rows()})));
            for (ShardInfo s : store.manifest().shards()) write(ch, values.apply(s));
        });
        return file;
    }

    /** Little-endian int32 values, as numpy's {@code <i4}. */
    private static ByteBuffer ints(int[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        return b;
    }

    /** Little-endian int64 values, as numpy's {@code <i8}. */
    private static ByteBuffer longs(long[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(v);
        return b;
    }

    private static void write(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
