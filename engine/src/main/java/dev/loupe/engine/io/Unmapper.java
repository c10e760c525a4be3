package dev.loupe.engine.io;

import java.lang.reflect.Field;
import java.nio.MappedByteBuffer;

/**
 * Unmaps a mapping as soon as its bytes were copied. Java unmaps only when the garbage collector
 * finds the buffer, and until then the file's pages count in the process's memory: loading a
 * 249 MB BF16 checkpoint kept up to that much mapped beside the float32 weights. The JDK's only
 * way to unmap now is {@code sun.misc.Unsafe.invokeCleaner} (module jdk.unsupported); where it is
 * unavailable the mapping is simply left to the garbage collector.
 */
final class Unmapper {
    private static final sun.misc.Unsafe UNSAFE = find();

    private Unmapper() {}

    private static sun.misc.Unsafe find() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** The buffer must not be used afterwards. */
    static void unmap(MappedByteBuffer buffer) {
        if (UNSAFE != null) UNSAFE.invokeCleaner(buffer);
    }
}
