package dev.loupe.engine.io;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The safetensors element types Loupe can read and write, with their byte size and ND4J type.
 *
 * <p>The spec also defines U16/U32/U64 and the 8-bit float formats; ND4J has no (or only partial)
 * arithmetic for those, so they are rejected with a message listing {@link #supportedNames()}
 * rather than loaded into arrays nothing could compute with.
 */
public enum SafetensorsDType {
    F64(8, DataType.DOUBLE),
    F32(4, DataType.FLOAT),
    F16(2, DataType.HALF),
    BF16(2, DataType.BFLOAT16),
    I64(8, DataType.LONG),
    I32(4, DataType.INT),
    I16(2, DataType.SHORT),
    I8(1, DataType.BYTE),
    U8(1, DataType.UBYTE),
    BOOL(1, DataType.BOOL);

    private final int size;
    private final DataType nd4j;

    SafetensorsDType(int size, DataType nd4j) {
        this.size = size;
        this.nd4j = nd4j;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** The ND4J data type arrays of this dtype are read into. */
    public DataType nd4j() {
        return nd4j;
    }

    /** The dtype spelled {@code name} in a safetensors header (case-sensitive, as in the spec). */
    public static Optional<SafetensorsDType> fromName(String name) {
        for (SafetensorsDType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The safetensors dtype for an ND4J type, or empty when the format has no equivalent. */
    public static Optional<SafetensorsDType> of(DataType type) {
        for (SafetensorsDType t : values()) {
            if (t.nd4j == type) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Like {@link #of(DataType)} but failing with a message naming the file and tensor. */
    static SafetensorsDType require(DataType type, String file, String tensor) {
        return of(type).orElseThrow(() -> new LoupeException(file + ": tensor '" + tensor
                + "' has ND4J type " + type + ", which safetensors cannot store; supported: "
                + supportedNd4jNames()));
    }

    /** "F64, F32, ..." — for error messages. */
    public static String supportedNames() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }

    private static String supportedNd4jNames() {
        return Arrays.stream(values()).map(t -> t.nd4j.name()).collect(Collectors.joining(", "));
    }
}
