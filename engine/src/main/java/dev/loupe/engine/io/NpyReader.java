package dev.loupe.engine.io;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads a numpy {@code .npy} file (format versions 1.0, 2.0 and 3.0) into a c-ordered ND4J array.
 *
 * <p>Supported dtypes: {@code <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1}. Fortran-ordered files are read
 * and returned in c order. The file must hold exactly the bytes its header describes; anything else
 * (bad magic, unknown version, malformed header dict, big-endian or structured dtypes, a data size
 * that does not match the shape) is a {@link LoupeException} naming the file.
 *
 * <p>The data is read straight into the array's native memory, without heap copies.
 */
public final class NpyReader {

    /** Headers are a few hundred bytes; this bounds what a hostile file can make us allocate. */
    private static final int MAX_HEADER_BYTES = 1 << 20;

    private static final int MAX_ND4J_RANK = 32;

    private NpyReader() {}

    public static INDArray read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(file, ch);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read .npy file: " + e, e);
        }
    }

    /**
     * Where a valid {@code .npy} file's array is: its shape, dtype, order and the byte offset of its data
     * (the data size checked against the shape), for readers that stream the data instead of loading it.
     */
    public record Layout(long[] shape, DataType dtype, boolean fortranOrder, long dataOffset) {}

    /** The layout of a {@code .npy} file, validated as {@link #read} validates it, without reading the data. */
    public static Layout layout(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return layout(file, ch);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot read .npy file: " + e, e);
        }
    }

    private static INDArray read(Path file, FileChannel ch) throws IOException {
        Layout layout = layout(file, ch);
        long dataStart = layout.dataOffset();
        char order = layout.fortranOrder() ? 'f' : 'c';
        INDArray array = ArrayBytes.read(
                layout.dtype(), layout.shape(), order, (dst, offset) -> readFully(ch, dst, dataStart + offset, file));
        if (order == 'c') {
            return array;
        }
        INDArray c = array.dup('c');
        if (array.closeable()) {
            array.close(); // free the fortran-order copy now rather than at the next GC
        }
        return c;
    }

    private static Layout layout(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        ByteBuffer start = ByteBuffer.allocate((int) Math.min(size, 12)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, start, 0, file);
        start.flip();
        if (size < 10 || !startsWithMagic(start)) {
            throw new LoupeException(file + ": not a .npy file (expected it to start with \\x93NUMPY)");
        }
        int major = start.get(6) & 0xFF;
        int minor = start.get(7) & 0xFF;
        if (major < 1 || major > 3 || minor != 0) {
            throw new LoupeException(
                    file + ": unsupported .npy format version " + major + "." + minor + "; supported: 1.0, 2.0, 3.0");
        }
        if (major > 1 && size < 12) {
            throw new LoupeException(file + ": file ends inside the .npy preamble");
        }
        long headerLength = major == 1 ? start.getShort(8) & 0xFFFF : start.getInt(8) & 0xFFFFFFFFL;
        long headerStart = major == 1 ? 10 : 12;
        if (headerLength > MAX_HEADER_BYTES || headerStart + headerLength > size) {
            throw new LoupeException(file + ": header length " + headerLength + " runs past the end of the" + " file ("
                    + size + " bytes) or over the " + MAX_HEADER_BYTES + "-byte limit");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(ch, headerBytes, headerStart, file);
        headerBytes.flip();
        // numpy writes versions 1 and 2 in latin-1, version 3 in UTF-8.
        String text = decode(headerBytes, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1, file);
        NpyHeader header = NpyHeader.parse(text, file.toString());

        long[] shape = header.shape();
        if (shape.length > MAX_ND4J_RANK) {
            throw new LoupeException(
                    file + ": array has rank " + shape.length + "; ND4J supports at most " + MAX_ND4J_RANK);
        }
        long dataStart = headerStart + headerLength;
        long expected;
        try {
            expected = Shapes.byteLength(shape, header.dtype().nd4j.width());
        } catch (ArithmeticException e) {
            throw new LoupeException(file + ": shape " + Arrays.toString(shape)
                    + " is too large: its size or strides would exceed 2^63 bytes");
        }
        if (size - dataStart != expected) {
            throw new LoupeException(file + ": " + header.dtype().descr + " array of shape "
                    + Arrays.toString(shape) + " needs " + expected + " data bytes but the file has "
                    + (size - dataStart) + " after the header");
        }
        return new Layout(shape, header.dtype().nd4j, header.fortranOrder(), dataStart);
    }

    private static boolean startsWithMagic(ByteBuffer b) {
        for (int i = 0; i < NpyHeader.MAGIC.length; i++) {
            if (b.get(i) != NpyHeader.MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    private static String decode(ByteBuffer bytes, Charset charset, Path file) {
        try {
            return charset.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new LoupeException(file + ": .npy header is not valid " + charset + " (" + e + ")", e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long position, Path file) throws IOException {
        long p = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) {
                throw new LoupeException(file + ": file ended at byte " + p + " (modified while reading?)");
            }
            p += n;
        }
    }
}
