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
    /**
     * The most bytes one write call hands the kernel. Measured on this project's 2-core VM (ext4),
     * 2 GB from one direct buffer into a new file: 3.9-4.2 s in 32 MB calls, 0.25-2.0 s in 1 MB
     * calls, 0.25-0.49 s in 256 KB calls (transferTo: 0.55-1.1 s).
     */
    public static final int CHUNK = 256 << 10;

    private DiskWrites() {}

    public static void write(FileChannel ch, ByteBuffer b) throws IOException {
        if (FAIL_AFTER >= 0 && WRITTEN.addAndGet(b.remaining()) > FAIL_AFTER)
            throw new IOException(
                    "No space left on device (simulated by -Dloupe.store.failAfterBytes=" + FAIL_AFTER + ")");
        inChunks(b, chunk -> {
            while (chunk.hasRemaining()) ch.write(chunk);
        });
    }

    /**
     * Copies {@code bytes} bytes of {@code in} from {@code position} to the end of {@code out} inside
     * the kernel ({@code transferTo}: no copy through user space). A source shorter than that is an
     * IOException naming it.
     */
    public static void transfer(FileChannel in, java.nio.file.Path source, long position, long bytes, FileChannel out)
            throws IOException {
        if (FAIL_AFTER >= 0 && WRITTEN.addAndGet(bytes) > FAIL_AFTER)
            throw new IOException(
                    "No space left on device (simulated by -Dloupe.store.failAfterBytes=" + FAIL_AFTER + ")");
        for (long done = 0; done < bytes; ) {
            long n = in.transferTo(position + done, bytes - done, out);
            if (n <= 0) // never loop without progress
            throw new IOException(source
                    + (position + done >= in.size()
                            ? ": ends at byte " + in.size() + ", " + (bytes - done) + " bytes short of "
                                    + (position + bytes) + " (truncated)"
                            : ": copying from byte " + (position + done) + " made no progress"));
            done += n;
        }
    }

    static void write(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long[] p = {position};
        inChunks(b, chunk -> {
            while (chunk.hasRemaining()) p[0] += ch.write(chunk, p[0]);
        });
    }

    private interface ChunkWriter {
        void write(ByteBuffer chunk) throws IOException;
    }

    /** Hands {@code b}'s remaining bytes to {@code w} at most {@link #CHUNK} at a time (b's limit restored). */
    private static void inChunks(ByteBuffer b, ChunkWriter w) throws IOException {
        int limit = b.limit();
        try {
            while (b.hasRemaining()) {
                b.limit(Math.min(limit, b.position() + CHUNK));
                w.write(b);
                b.limit(limit);
            }
        } finally {
            b.limit(limit);
        }
    }
}
