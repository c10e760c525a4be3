package dev.loupe.engine.io;

import dev.loupe.engine.ClosestNames;
import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads tensors from a Hugging Face safetensors file.
 *
 * <p>Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
 * name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (plus an optional
 * {@code "__metadata__"} string map), then the data section, to which the offsets are relative.
 *
 * <p><b>Validation.</b> {@link #open} reads and validates the whole header (see
 * {@code SafetensorsHeader}) but no tensor data; a file that opens will not fail later because of
 * its header. Every problem is a {@link LoupeException} naming the file, the tensor and what was
 * expected.
 *
 * <p><b>Memory.</b> The file is never read whole. {@link #read} memory-maps just the bytes of the
 * requested tensor (in windows below 2 GiB, so files and tensors may exceed 2 GiB) and copies them
 * once, natively, into a new ND4J array.
 *
 * <p><b>Returned arrays are copies, not views of the file.</b> They stay valid after
 * {@link #close()} and may be modified freely. Zero-copy wrapping of the mapping was investigated
 * for ND4J 1.0.0-M2.1 and rejected: {@code Nd4j.createBuffer(ByteBuffer, ...)} copies anyway (and
 * for BFLOAT16 and BOOL copies uninitialised memory instead of the buffer's), while wrapping the
 * mapped address in a javacpp {@code Pointer} gives an array that keeps no reference to the
 * mapping — once the mapping is unmapped (garbage collection, close) any use of the array would
 * crash the JVM, and any in-place operation on a read-only mapping would crash it immediately.
 *
 * <p>If another process truncates the file while it is open, reading an affected tensor throws a
 * {@link LoupeException} (the JVM reports the fault on the mapped page) instead of crashing.
 * Instances are safe for concurrent {@link #read}s from several threads.
 */
public final class SafetensorsReader implements AutoCloseable {

    /** libnd4j's maximum array rank. */
    private static final int MAX_ND4J_RANK = 32;

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final SafetensorsHeader header;
    private volatile boolean closed;

    private SafetensorsReader(Path file, FileChannel channel, long dataStart, SafetensorsHeader header) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.header = header;
    }

    /**
     * Opens {@code file} and validates its header.
     *
     * @throws LoupeException if the file cannot be read or is not a valid safetensors file
     */
    public static SafetensorsReader open(Path file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot open safetensors file: " + e, e);
        }
        try {
            long size = ch.size();
            if (size < 8) {
                throw new LoupeException(file + ": file has " + size + " bytes; a safetensors file"
                        + " starts with an 8-byte header length");
            }
            long headerLength = readFully(ch, 0, 8, file, "the header")
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .getLong();
            if (headerLength < 0 || headerLength > SafetensorsHeader.MAX_HEADER_BYTES) {
                throw new LoupeException(file + ": header length " + Long.toUnsignedString(headerLength)
                        + " is over the " + SafetensorsHeader.MAX_HEADER_BYTES + "-byte limit"
                        + " (not a safetensors file?)");
            }
            if (headerLength > size - 8) {
                throw new LoupeException(file + ": header length " + headerLength + " runs past the end"
                        + " of the file, which has only " + (size - 8) + " bytes after the length"
                        + " (truncated, or not a safetensors file?)");
            }
            byte[] json =
                    readFully(ch, 8, (int) headerLength, file, "the header").array();
            long dataStart = 8 + headerLength;
            SafetensorsHeader header = SafetensorsHeader.parse(json, size - dataStart, file.toString());
            return new SafetensorsReader(file, ch, dataStart, header);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new LoupeException(file + ": cannot read safetensors header: " + e, e);
        } catch (RuntimeException | Error e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** The file this reader reads. */
    public Path file() {
        return file;
    }

    /** Tensor names in header order (the order they appear in the file's JSON). */
    public List<String> names() {
        return List.copyOf(header.tensors().keySet());
    }

    public boolean contains(String name) {
        return header.tensors().containsKey(name);
    }

    /** The validated header entry of tensor {@code name}. */
    public TensorInfo info(String name) {
        TensorInfo info = header.tensors().get(name);
        if (info == null) {
            throw new LoupeException(file + ": no tensor named " + SafetensorsHeader.quote(name)
                    + "; closest names: "
                    + (header.tensors().isEmpty()
                            ? "(the file has no tensors)"
                            : ClosestNames.closest(name, header.tensors().keySet(), 3).stream()
                                    .map(SafetensorsHeader::quote)
                                    .collect(java.util.stream.Collectors.joining(", ")))
                    + " (" + header.tensors().size() + " tensors in the file)");
        }
        return info;
    }

    /** The {@code __metadata__} map of the header, empty when it has none. Unmodifiable. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /**
     * Reads tensor {@code name} into a new c-ordered array of its stored type (F32→FLOAT,
     * F64→DOUBLE, F16→HALF, BF16→BFLOAT16, I64→LONG, I32→INT, I16→SHORT, I8→BYTE, U8→UBYTE,
     * BOOL→BOOL) and shape; shape {@code []} gives a rank-0 scalar. The array is a copy: see the
     * class comment.
     */
    public INDArray read(String name) {
        TensorInfo t = info(name);
        ensureOpen();
        if (t.rank() > MAX_ND4J_RANK) {
            throw new LoupeException(file + ": tensor " + SafetensorsHeader.quote(name) + " has rank " + t.rank()
                    + "; ND4J supports at most rank " + MAX_ND4J_RANK);
        }
        try {
            return ArrayBytes.read(t.dtype().nd4j(), t.shape(), 'c', (dst, offset) -> copyFromMapping(t, dst, offset));
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read tensor " + SafetensorsHeader.quote(name) + ": " + e, e);
        }
    }

    /**
     * Reads tensor {@code name} as FLOAT, converting other stored types (F16, BF16, F64, integers,
     * BOOL) one tensor at a time.
     */
    public INDArray readFloat(String name) {
        INDArray stored = read(name);
        if (stored.dataType() == DataType.FLOAT) {
            return stored;
        }
        INDArray f = stored.castTo(DataType.FLOAT);
        if (stored.closeable()) {
            stored.close(); // free the stored-type copy now rather than at the next GC
        }
        return f;
    }

    /**
     * Reads the I32 tensor {@code name} (any shape) into a Java array, row-major, without ND4J: for
     * small index columns (an activation store's token ids and positions), whose readers need not
     * start the native tensor library (half a second).
     */
    public int[] readInts(String name) {
        java.nio.IntBuffer values = readBytes(name, SafetensorsDType.I32).asIntBuffer();
        int[] out = new int[values.remaining()];
        values.get(out);
        return out;
    }

    /** Reads the I64 tensor {@code name} (any shape) into a Java array, row-major, without ND4J. */
    public long[] readLongs(String name) {
        java.nio.LongBuffer values = readBytes(name, SafetensorsDType.I64).asLongBuffer();
        long[] out = new long[values.remaining()];
        values.get(out);
        return out;
    }

    /** Reads the F32 tensor {@code name} (any shape) into a Java array, row-major, without ND4J. */
    public float[] readFloats(String name) {
        java.nio.FloatBuffer values = readBytes(name, SafetensorsDType.F32).asFloatBuffer();
        float[] out = new float[values.remaining()];
        values.get(out);
        return out;
    }

    private ByteBuffer readBytes(String name, SafetensorsDType expected) {
        TensorInfo t = info(name);
        ensureOpen();
        if (t.dtype() != expected)
            throw new LoupeException(
                    file + ": tensor " + SafetensorsHeader.quote(name) + " is " + t.dtype() + "; expected " + expected);
        if (t.byteLength() > Integer.MAX_VALUE - 8)
            throw new LoupeException(file + ": tensor " + SafetensorsHeader.quote(name) + " has " + t.byteLength()
                    + " bytes, too many for one Java array");
        try {
            return readFully(
                            channel,
                            dataStart + t.begin(),
                            (int) t.byteLength(),
                            file,
                            "tensor " + SafetensorsHeader.quote(name))
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read tensor " + SafetensorsHeader.quote(name) + ": " + e, e);
        }
    }

    /** Closes the file. Arrays already read remain valid. Idempotent. */
    @Override
    public void close() {
        closed = true;
        closeQuietly(channel);
    }

    private void copyFromMapping(TensorInfo t, ByteBuffer dst, long offsetInTensor) throws IOException {
        long position = dataStart + t.begin() + offsetInTensor;
        MappedByteBuffer src = channel.map(FileChannel.MapMode.READ_ONLY, position, dst.remaining());
        try {
            dst.put(src);
            Unmapper.unmap(src);
        } catch (InternalError e) {
            // The JVM turns SIGBUS on a mapped page (file truncated underneath us) into InternalError.
            throw new LoupeException(
                    file + ": tensor " + SafetensorsHeader.quote(t.name())
                            + " could not be read from bytes [" + position + ", " + (position + dst.capacity())
                            + ") — was the file truncated or rewritten while open? (" + e.getMessage() + ")",
                    e);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new LoupeException(file + ": reader is closed");
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length, Path file, String what)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new LoupeException(file + ": file ended after " + (position + buf.position())
                        + " bytes while reading " + what + " (it is being modified?)");
            }
        }
        return buf.flip();
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing useful to do: reads are complete
        }
    }
}
