package dev.loupe.engine.io;

import java.util.Arrays;

/**
 * One entry of a safetensors header, already validated: its dtype, shape and byte range
 * {@code [begin, end)} relative to the start of the file's data section.
 *
 * <p>The shape array is copied in and out, so a {@code TensorInfo} is immutable.
 */
public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions; 0 for a scalar. */
    public int rank() {
        return shape.length;
    }

    /** Product of the dimensions (1 for a scalar, 0 when any dimension is 0). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d; // validated at open not to overflow
        }
        return n;
    }

    /** {@code end - begin}. */
    public long byteLength() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && begin == t.begin
                && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
