package dev.loupe.store.corpus;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Token ids from a {@code .npy} file (int32 or int64), read as they are needed: a 2-D file
 * [documents, tokens] one row at a time, so that a pre-tokenized corpus of any size streams in
 * constant memory; a 1-D file is one document (at most 2^31 - 9 tokens, Java's array limit).
 */
final class NpyDocuments implements Corpus.FileDocuments {
    /** Bytes read per positional read of a long document. */
    private static final int CHUNK_BYTES = 1 << 24;

    private final Path file;
    private final FileChannel channel;
    private final boolean int64;
    private final long documents, tokens, dataOffset;
    private long next;

    NpyDocuments(Path file) {
        this(file, 0);
    }

    /** The documents from row {@code first} on. */
    NpyDocuments(Path file, long first) {
        NpyReader.Layout l = NpyReader.layout(file);
        if (l.dtype() != DataType.INT && l.dtype() != DataType.LONG)
            throw new LoupeException(file + ": token ids must be int32 or int64, the file holds "
                    + l.dtype().name().toLowerCase(Locale.ROOT));
        long[] shape = l.shape();
        if (shape.length != 1 && shape.length != 2)
            throw new LoupeException(
                    file + ": token ids must be 1-D (one document) or 2-D (one document per row), got shape "
                            + Arrays.toString(shape));
        if (shape.length == 2 && l.fortranOrder() && shape[0] > 1 && shape[1] > 1)
            throw new LoupeException(
                    file + ": a Fortran-ordered 2-D token file cannot be read row by row; save it in C order "
                            + "(np.save(path, np.ascontiguousarray(ids)))");
        this.file = file;
        this.int64 = l.dtype() == DataType.LONG;
        this.documents = shape.length == 1 ? 1 : shape[0];
        this.tokens = shape.length == 1 ? shape[0] : shape[1];
        if (tokens > Integer.MAX_VALUE - 8)
            throw new LoupeException(
                    file + ": a document of " + tokens + " tokens is over Java's array limit; store the ids "
                            + "as a 2-D array, one document (or piece of one) per row");
        this.dataOffset = l.dataOffset();
        if (first < 0 || first > documents)
            throw new LoupeException(file + ": no document " + first + " (the file holds " + documents
                    + "; changed since the harvest was planned?)");
        this.next = first;
        try {
            this.channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean hasNext() {
        return next < documents;
    }

    @Override
    public int[] next() {
        if (!hasNext()) throw new NoSuchElementException();
        int width = int64 ? 8 : 4;
        int[] doc = new int[(int) tokens];
        long position = dataOffset + next * tokens * width;
        ByteBuffer buf =
                ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, tokens * width)).order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < doc.length; ) {
            int n = (int) Math.min(buf.capacity() / width, doc.length - done);
            buf.clear().limit(n * width);
            try {
                while (buf.hasRemaining()) {
                    int r = channel.read(buf, position);
                    if (r < 0)
                        throw new LoupeException(
                                file + ": file ended at byte " + position + " (modified while reading?)");
                    position += r;
                }
            } catch (IOException e) {
                throw new LoupeException(file + ": cannot read: " + e.getMessage(), e);
            }
            buf.flip();
            if (int64) {
                for (int i = 0; i < n; i++) {
                    long id = buf.getLong();
                    if (id < 0 || id > Integer.MAX_VALUE)
                        throw new LoupeException(file + ": token ids must be in 0.." + Integer.MAX_VALUE + ", found "
                                + id + " in document " + next + " at token " + (done + i));
                    doc[done + i] = (int) id;
                }
            } else {
                buf.asIntBuffer().get(doc, done, n);
                for (int i = 0; i < n; i++)
                    if (doc[done + i] < 0)
                        throw new LoupeException(file + ": token ids must be in 0.." + Integer.MAX_VALUE + ", found "
                                + doc[done + i] + " in document " + next + " at token " + (done + i));
            }
            done += n;
        }
        next++;
        return doc;
    }

    /** The row of the document last returned. */
    @Override
    public long offset() {
        return next - 1;
    }

    @Override
    public long line() {
        return 0;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
