package dev.loupe.store;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.nd4j.linalg.api.concurrency.AffinityManager;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The element bytes of a dense c-ordered ND4J array as a {@link ByteBuffer} over its native memory
 * (little-endian, as the file formats are): rows move between files and arrays with bulk copies,
 * never element by element. The caller keeps the array reachable while the buffer is in use.
 */
public final class NativeBytes {
    private NativeBytes() {}

    /** True when {@link #of} can view the array without a copy. */
    public static boolean viewable(INDArray a) {
        return a.ordering() == 'c'
                && Shape.hasDefaultStridesForShape(a)
                && a.data().length() >= a.length();
    }

    /** A view of a dense c-ordered array's bytes (at most 2 GiB), for reading: the host copy is made current. */
    public static ByteBuffer of(INDArray a) {
        if (!viewable(a)) throw new IllegalArgumentException("array is not dense c-ordered; dup('c') it first");
        Nd4j.getAffinityManager().ensureLocation(a, AffinityManager.Location.HOST);
        long bytes = a.length() * a.dataType().width();
        if (bytes > Integer.MAX_VALUE) throw new IllegalArgumentException("array of " + bytes + " bytes is over 2 GiB");
        // addressPointer() points at the array's first element (it includes a view's offset).
        long address = a.data().addressPointer().address();
        return new BytePointer(new PagedPointer(address))
                .capacity(bytes)
                .asByteBuffer()
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Marks an array whose bytes were written through {@link #of} as current on the host (matters on GPU backends). */
    public static void written(INDArray a) {
        Nd4j.getAffinityManager().tagLocation(a, AffinityManager.Location.HOST);
    }

    /** Frees an array's native memory now instead of at garbage collection (when ND4J allows it). */
    public static void free(INDArray a) {
        if (a != null && a.closeable()) a.close();
    }
}
