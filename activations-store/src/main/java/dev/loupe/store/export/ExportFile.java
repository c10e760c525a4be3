package dev.loupe.store.export;

import dev.loupe.store.write.DiskWrites;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.PositionOutputStream;

/**
 * One file an export writes, as a channel (Arrow's IPC writer) or a Parquet {@link OutputFile}.
 * Bytes go through the store's {@link DiskWrites} (so {@code -Dloupe.store.failAfterBytes} makes a
 * test's export hit a "full disk" as a harvest would). {@link #finish} forces a file to disk, {@link
 * #force} data files written earlier: the export renames its folder into place only after every file
 * was forced.
 */
final class ExportFile implements WritableByteChannel {
    private static final int PARQUET_BUFFER = DiskWrites.CHUNK;

    private final Path path;
    private final FileChannel channel;

    private ExportFile(Path path, FileChannel channel) {
        this.path = path;
        this.channel = channel;
    }

    /** A new file (never an existing one). */
    static ExportFile create(Path path) throws IOException {
        return new ExportFile(path, FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    Path path() {
        return path;
    }

    /** A small text file (JSON), UTF-8, written and forced like the data files. */
    static Path writeText(Path path, String text) throws IOException {
        try (ExportFile f = create(path)) {
            f.write(ByteBuffer.wrap(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            f.finish();
        }
        return path;
    }

    @Override
    public int write(ByteBuffer b) throws IOException {
        int n = b.remaining();
        DiskWrites.write(channel, b);
        return n;
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    /** Forces the content to disk and closes. */
    void finish() throws IOException {
        channel.force(true);
        channel.close();
    }

    /**
     * Forces written and closed files to disk, each with one fsync (which writes the file's pages
     * whichever descriptor wrote them). Exports hand each data file to {@link WriteBehind}, which
     * calls this on a background thread as the next file is written.
     */
    static void force(List<Path> files) throws IOException {
        for (Path f : files)
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
    }

    /** Closes without forcing (a data file that {@link #force} forces, or a failed export's). */
    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** This file as Parquet's output: a buffered stream that counts its position. */
    OutputFile parquet() {
        return new OutputFile() {
            @Override
            public PositionOutputStream create(long blockSizeHint) {
                return new ParquetStream();
            }

            @Override
            public PositionOutputStream createOrOverwrite(long blockSizeHint) {
                return new ParquetStream();
            }

            @Override
            public boolean supportsBlockSize() {
                return false;
            }

            @Override
            public long defaultBlockSize() {
                return 0;
            }

            @Override
            public String getPath() {
                return path.toString();
            }
        };
    }

    /** Parquet's stream into this file; {@link #writeBuffer} takes a page's values in one call (ParquetExport.PageValues). */
    final class ParquetStream extends PositionOutputStream {
        // direct: the channel writes it as it is (a heap buffer is copied into a direct one first)
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(PARQUET_BUFFER);
        private long position;

        @Override
        public long getPos() {
            return position;
        }

        @Override
        public void write(int b) throws IOException {
            if (!buffer.hasRemaining()) drain();
            buffer.put((byte) b);
            position++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len > buffer.remaining()) drain();
            if (len >= buffer.capacity()) ExportFile.this.write(ByteBuffer.wrap(b, off, len));
            else buffer.put(b, off, len);
            position += len;
        }

        /** Writes {@code b}'s remaining bytes (after what is buffered), leaving {@code b} as it was. */
        void writeBuffer(ByteBuffer b) throws IOException {
            drain();
            ByteBuffer all = b.duplicate();
            position += all.remaining();
            ExportFile.this.write(all);
        }

        /** Copies a range of another file after what is buffered, inside the kernel (ParquetExport.PageValues). */
        void transfer(dev.loupe.store.read.ActivationStore.FileRange range) throws IOException {
            drain();
            try (FileChannel in = FileChannel.open(range.file(), StandardOpenOption.READ)) {
                DiskWrites.transfer(in, range.file(), range.offset(), range.bytes(), channel);
            }
            position += range.bytes();
        }

        @Override
        public void flush() throws IOException {
            drain();
        }

        /** Writes out what is buffered; the channel stays open until the file is closed. */
        @Override
        public void close() throws IOException {
            drain();
        }

        private void drain() throws IOException {
            buffer.flip();
            if (buffer.hasRemaining()) ExportFile.this.write(buffer);
            buffer.clear();
        }
    }
}
