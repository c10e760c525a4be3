package dev.loupe.saes.kernels;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.concurrency.AffinityManager;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The native memory of a dense, c-ordered float32 ND4J array, as an address or a {@link FloatBuffer},
 * for the sparse kernels that work row by row. The caller keeps the array reachable while using them.
 */
public final class NativeFloats {
    private NativeFloats() {}

    /** Fails unless {@code a} is float32, c-ordered and dense (a view of a contiguous region is fine). */
    public static void require(INDArray a, String what) {
        if (a.dataType() != DataType.FLOAT || a.ordering() != 'c' || !Shape.hasDefaultStridesForShape(a))
            throw new IllegalArgumentException(what + " must be a dense c-ordered float32 array, got " + a.dataType()
                    + " " + a.ordering() + " " + a.shapeInfoToString().replace('\n', ' '));
    }

    /** The address of the first element (a view's offset included). */
    public static long address(INDArray a) {
        require(a, "array");
        Nd4j.getAffinityManager().ensureLocation(a, AffinityManager.Location.HOST);
        return a.data().addressPointer().address();
    }

    /** The elements as a buffer (at most 2^31 - 1 of them). */
    public static FloatBuffer of(INDArray a) {
        long address = address(a);
        if (a.length() > Integer.MAX_VALUE) throw new IllegalArgumentException("array of " + a.length() + " floats");
        return new BytePointer(new PagedPointer(address))
                .capacity(a.length() * Float.BYTES)
                .asByteBuffer()
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /** Marks an array written through its address as current on the host (matters on GPU backends only). */
    public static void written(INDArray a) {
        Nd4j.getAffinityManager().tagLocation(a, AffinityManager.Location.HOST);
    }
}
