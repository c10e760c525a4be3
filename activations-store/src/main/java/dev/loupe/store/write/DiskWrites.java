package dev.loupe.store.write;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every activation byte a store writes goes through here. For testing disk-full handling without
 * a full disk, {@code -Dloupe.store.failAfterBytes=N} makes writes fail, as ENOSPC would, once N
 * bytes were written by this process. Exports write through here too ({@code dev.loupe.store.export}).
 */
public final class DiskWrites {
    private static final long FAIL_AFTER = Long.getLong("loupe.store.failAfterBytes", -1);
    private static final AtomicLong WRITTEN = new AtomicLong();

    private DiskWrites() {}

    public static void write(FileChannel ch, ByteBuffer b) throws IOException {
        if (FAIL_AFTER >= 0 && WRITTEN.addAndGet(b.remaining()) > FAIL_AFTER)
            throw new IOException(
                    "No space left on device (simulated by -Dloupe.store.failAfterBytes=" + FAIL_AFTER + ")");
        while (b.hasRemaining()) ch.write(b);
    }

    static void write(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long p = position;
        while (b.hasRemaining()) p += ch.write(b, p);
    }
}
