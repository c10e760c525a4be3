package dev.loupe.engine.io;

/** Overflow-checked size arithmetic for shapes read from untrusted files. */
final class Shapes {

    private Shapes() {}

    /**
     * Bytes needed by a dense array of {@code shape} with {@code elementSize}-byte elements.
     *
     * <p>Also checks that the array's strides fit in 64 bits even when a zero dimension makes it
     * empty (a shape like {@code [0, 2^40, 2^40]} holds no bytes, but ND4J would still have to
     * compute its strides).
     *
     * @throws ArithmeticException if either would overflow a {@code long}
     */
    static long byteLength(long[] shape, int elementSize) {
        long elements = 1;
        long extent = 1;
        for (long d : shape) {
            elements = Math.multiplyExact(elements, d);
            extent = Math.multiplyExact(extent, Math.max(d, 1));
        }
        Math.multiplyExact(extent, (long) elementSize);
        return Math.multiplyExact(elements, (long) elementSize);
    }
}
