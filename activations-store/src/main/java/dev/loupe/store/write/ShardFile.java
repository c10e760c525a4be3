package dev.loupe.store.write;

import dev.loupe.engine.io.SafetensorsDType;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.store.ShardChecksum;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One hook's activations in one shard: a safetensors file with a single tensor
 * {@code "activations"} [rows, d], written as batches arrive. The header's size is reserved up
 * front (padded with spaces, as the format allows) and filled in when the shard is finished, so
 * rows stream to disk without being held in memory. The CRC32C of the data is computed on the way.
 */
final class ShardFile {
    static final String TENSOR = "activations";
    /** The header is sized for this many rows, more than any shard holds. */
    private static final long HEADER_ROWS = 999_999_999_999L;

    private final Path path;
    private final StoreDType dtype;
    private final int d;
    private final int headerLength;
    private final FileChannel channel;
    private final CRC32C crc = new CRC32C();
    private long dataBytes;

    ShardFile(Path path, StoreDType dtype, int d) throws IOException {
        this.path = path;
        this.dtype = dtype;
        this.d = d;
        this.headerLength = header(HEADER_ROWS, 0).length;
        this.channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        channel.position(8 + headerLength);
    }

    long rowBytes() {
        return (long) d * dtype.width();
    }

    /** Appends whole rows (the buffer's remaining bytes, a multiple of d × width). */
    void append(ByteBuffer rows) throws IOException {
        if (rows.remaining() % rowBytes() != 0) throw new IllegalArgumentException("partial row");
        dataBytes += rows.remaining();
        crc.update(rows.duplicate());
        DiskWrites.write(channel, rows);
    }

    long rows() {
        return dataBytes / rowBytes();
    }

    /** Writes the header, forces everything to disk and closes; the entry names the file by {@code relative}. */
    StoreManifest.FileEntry finish(String relative) throws IOException {
        byte[] padded = header(rows(), headerLength);
        ByteBuffer b = ByteBuffer.allocate(8 + headerLength).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(padded).flip();
        DiskWrites.write(channel, b, 0);
        channel.force(true);
        channel.close();
        return new StoreManifest.FileEntry(
                relative, 8 + headerLength + dataBytes, 8 + headerLength, ShardChecksum.hex(crc.getValue()));
    }

    void abort() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the shard is being discarded anyway
        }
    }

    /** The header for {@code rows} rows, padded to {@code minLength} (0: to a multiple of 8 only). */
    private byte[] header(long rows, int minLength) {
        return SafetensorsWriter.header(
                path.toString(),
                List.of(new SafetensorsWriter.HeaderEntry(
                        TENSOR, SafetensorsDType.valueOf(dtype.safetensorsName()), new long[] {rows, d})),
                Map.of("format", StoreManifest.FORMAT),
                minLength);
    }

    Path path() {
        return path;
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
