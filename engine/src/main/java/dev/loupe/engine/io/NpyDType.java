package dev.loupe.engine.io;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;

/** The numpy {@code descr} strings Loupe reads and writes, and their ND4J types. */
enum NpyDType {
    F4("<f4", DataType.FLOAT),
    F8("<f8", DataType.DOUBLE),
    F2("<f2", DataType.HALF),
    I8("<i8", DataType.LONG),
    I4("<i4", DataType.INT),
    I2("<i2", DataType.SHORT),
    I1("|i1", DataType.BYTE),
    U1("|u1", DataType.UBYTE),
    B1("|b1", DataType.BOOL);

    final String descr;
    final DataType nd4j;

    NpyDType(String descr, DataType nd4j) {
        this.descr = descr;
        this.nd4j = nd4j;
    }

    /**
     * The type for a descr. Single-byte types are accepted with any byte-order mark ('|', '<',
     * '>' or '='), since byte order does not apply to them.
     */
    static Optional<NpyDType> fromDescr(String descr) {
        for (NpyDType t : values()) {
            if (t.descr.equals(descr)
                    || (t.nd4j.width() == 1
                            && descr.length() == 3
                            && "<>=|".indexOf(descr.charAt(0)) >= 0
                            && descr.substring(1).equals(t.descr.substring(1)))) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    static Optional<NpyDType> of(DataType type) {
        return Arrays.stream(values()).filter(t -> t.nd4j == type).findFirst();
    }

    static String supportedDescrs() {
        return Arrays.stream(values()).map(t -> "'" + t.descr + "'").collect(Collectors.joining(", "));
    }

    static String supportedNd4jTypes() {
        return Arrays.stream(values()).map(t -> t.nd4j.name()).collect(Collectors.joining(", "));
    }
}
