package dev.loupe.store;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/** CRC32C of a shard file's data section (the bytes after the safetensors header), as the manifest records it. */
public final class ShardChecksum {
    private static final int CHUNK = 4 << 20;

    private ShardChecksum() {}

    public static String hex(long crc) {
        return String.format("%08x", crc);
    }

    /** The CRC32C of {@code file}'s bytes from {@code dataOffset} to its end. */
    public static String ofData(Path file, long dataOffset) {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long pos = dataOffset;
            while (true) {
                buf.clear();
                int n = ch.read(buf, pos);
                if (n < 0) break;
                pos += n;
                buf.flip();
                crc.update(buf);
            }
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read: " + e.getMessage(), e);
        }
        return hex(crc.getValue());
    }

    /** Where a safetensors file's data starts: 8 + the header length stored in its first 8 bytes. */
    public static long dataOffset(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) if (ch.read(b) < 0) throw new LoupeException(file + ": shorter than 8 bytes");
            return 8 + b.flip().getLong();
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
