package dev.loupe.engine.io;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import org.bytedeco.javacpp.BytePointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.concurrency.AffinityManager;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Moves the raw element bytes of an ND4J array to and from files, one window at a time.
 *
 * <p>Both file formats store an array as its elements in c order, little-endian — which is exactly
 * the layout of a c-ordered ND4J buffer on the little-endian machines ND4J runs on. So instead of
 * going element by element through Java arrays, this class exposes the array's native memory as
 * {@link ByteBuffer} windows and lets the file channel (or a mapped file) copy into or out of them
 * directly: one copy, no heap arrays, no whole-file buffers.
 *
 * <p>Windows are at most {@link #WINDOW} bytes because a {@code ByteBuffer} is int-indexed; arrays
 * larger than 2 GiB are handled as several windows.
 */
final class ArrayBytes {

    /** 1 GiB: a multiple of every element size, and well below the 2 GiB ByteBuffer limit. */
    static final int WINDOW = 1 << 30;

    private ArrayBytes() {}

    /** Fills {@code dst} (all of its remaining bytes) with file bytes starting at {@code byteOffset}. */
    @FunctionalInterface
    interface Filler {
        void fill(ByteBuffer dst, long byteOffset) throws IOException;
    }

    /**
     * Allocates a detached (workspace-independent) array of the given type, shape and order, and
     * fills its buffer from {@code source}, which is asked for consecutive windows of the
     * {@code elementCount * width} bytes.
     */
    static INDArray read(DataType type, long[] shape, char order, Filler source) throws IOException {
        return read(type, shape, order, source, WINDOW);
    }

    /** {@link #read(DataType, long[], char, Filler)} with a chosen window size (for tests). */
    static INDArray read(DataType type, long[] shape, char order, Filler source, int window) throws IOException {
        INDArray out = Nd4j.createUninitializedDetached(type, order, shape);
        long total = out.length() * type.width();
        if (total == 0) {
            return out;
        }
        long base = out.data().addressPointer().address();
        for (long off = 0; off < total; off += window) {
            int n = (int) Math.min(window, total - off);
            source.fill(nativeBytes(base + off, n), off);
        }
        // On a GPU backend the bytes were written to the host copy; tell ND4J so.
        Nd4j.getAffinityManager().tagLocation(out, AffinityManager.Location.HOST);
        return out;
    }

    /**
     * Writes the elements of {@code array} in logical c order, little-endian, to {@code out}.
     * Views, 'f'-ordered and strided arrays are first copied to a c-ordered array (one tensor at a
     * time); plain c-ordered arrays are written straight from their buffer.
     *
     * @return the number of bytes written
     */
    static long write(INDArray array, WritableByteChannel out) throws IOException {
        return write(array, out, WINDOW);
    }

    /** {@link #write(INDArray, WritableByteChannel)} with a chosen window size (for tests). */
    static long write(INDArray array, WritableByteChannel out, int window) throws IOException {
        long total = byteLength(array);
        if (total == 0) {
            return 0;
        }
        INDArray c = isDenseCOrder(array) ? array : array.dup('c');
        Nd4j.getAffinityManager().ensureLocation(c, AffinityManager.Location.HOST);
        // addressPointer() already points at the array's first element (it includes the offset).
        long base = c.data().addressPointer().address();
        try {
            for (long off = 0; off < total; off += window) {
                ByteBuffer w = nativeBytes(base + off, (int) Math.min(window, total - off));
                while (w.hasRemaining()) {
                    out.write(w);
                }
            }
        } finally {
            // The windows are raw addresses: keep the (possibly temporary) array, and so its
            // native memory, from being collected while they are in use.
            Reference.reachabilityFence(c);
        }
        return total;
    }

    /** Bytes the array occupies when stored densely: element count × element width. */
    static long byteLength(INDArray array) {
        return Math.multiplyExact(array.length(), (long) array.dataType().width());
    }

    private static boolean isDenseCOrder(INDArray a) {
        return a.ordering() == 'c'
                && Shape.hasDefaultStridesForShape(a)
                && a.data().length() >= a.length();
    }

    /** A ByteBuffer over {@code length} bytes of native memory at {@code address}. */
    private static ByteBuffer nativeBytes(long address, int length) {
        return new BytePointer(new PagedPointer(address))
                .capacity(length)
                .asByteBuffer()
                .order(ByteOrder.LITTLE_ENDIAN);
    }
}
