package dev.loupe.engine.io;

import dev.loupe.engine.LoupeException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes an ND4J array as a numpy {@code .npy} file (format 1.0, or 2.0 if the header needs it),
 * always c-ordered ({@code fortran_order: False}), with the data aligned to 64 bytes as numpy does.
 * Views and 'f'-ordered arrays are written in their logical c order. The file is replaced
 * atomically through {@link AtomicFileWriter}.
 */
public final class NpyWriter {

    private NpyWriter() {}

    /**
     * The {@code .npy} preamble (magic, version, header) for a c-ordered array of this type and
     * shape, for writers that stream the data themselves.
     */
    public static byte[] preamble(DataType type, long[] shape) {
        NpyDType dtype = NpyDType.of(type)
                .orElseThrow(() -> new LoupeException(
                        "cannot store ND4J type " + type + " in .npy; supported: " + NpyDType.supportedNd4jTypes()));
        return new NpyHeader(dtype, false, shape).encode();
    }

    /**
     * Writes {@code array} (FLOAT, DOUBLE, HALF, LONG, INT, SHORT, BYTE, UBYTE or BOOL) to {@code file}.
     *
     * @throws LoupeException for an unsupported array type or an I/O error
     */
    public static void write(Path file, INDArray array) {
        if (array == null) {
            throw new LoupeException(file + ": array to write is null");
        }
        NpyDType dtype = NpyDType.of(array.dataType())
                .orElseThrow(() -> new LoupeException(file
                        + ": cannot store ND4J type " + array.dataType() + " in .npy; supported: "
                        + NpyDType.supportedNd4jTypes()));
        byte[] preamble = new NpyHeader(dtype, false, array.shape()).encode();
        AtomicFileWriter.write(file, ch -> {
            ByteBuffer b = ByteBuffer.wrap(preamble);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ArrayBytes.write(array, ch);
        });
    }
}
