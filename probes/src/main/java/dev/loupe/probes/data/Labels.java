package dev.loupe.probes.data;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.model.Tokens;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Labels aligned to activation rows: from a {@code .npy} file, or computed from each token's
 * context by a {@link PositionLabel} for the rows of a cache (batch-major, as
 * {@link CacheRows} flattens them) or of a store (in store row order).
 */
public final class Labels {
    /** A label that leaves its row out (padding, positions a label function does not label). */
    public static final int IGNORE = Integer.MIN_VALUE;

    private Labels() {}

    /** A label for the token at {@code position} of {@code sequence} (the sequence's token ids), or {@link #IGNORE}. */
    @FunctionalInterface
    public interface PositionLabel {
        int label(int[] sequence, int position);
    }

    /**
     * Integer labels from a 1-D {@code .npy} file of {@code rows} entries (any integer or bool dtype;
     * a float file is accepted when every value is a whole number).
     *
     * @param rows the number of activation rows the labels must align with, or -1 for any
     * @throws LoupeException naming the file: wrong rank or length, a non-integer value, NaN
     */
    public static int[] fromNpy(Path file, long rows) {
        INDArray a = NpyReader.read(file);
        long n = a.length();
        if (!(a.rank() == 1 || (a.rank() == 2 && a.size(1) == 1)))
            throw new LoupeException(file + ": expected labels of shape [" + (rows >= 0 ? rows : "n") + "], got "
                    + Arrays.toString(a.shape()));
        if (rows >= 0 && n != rows)
            throw new LoupeException(file + " has " + n + " labels but the activations have " + rows
                    + " rows; expected one label per row");
        DataType t = a.dataType();
        if (t == DataType.BOOL) return a.castTo(DataType.INT).toIntVector();
        if (t.isIntType()) {
            long[] v = a.castTo(DataType.LONG).toLongVector();
            int[] out = new int[v.length];
            for (int i = 0; i < v.length; i++) {
                if (v[i] <= IGNORE || v[i] > Integer.MAX_VALUE)
                    throw new LoupeException(file + ": label " + v[i] + " at index " + i + " is outside the int range ("
                            + (IGNORE + 1L) + " .. " + Integer.MAX_VALUE + ")");
                out[i] = (int) v[i];
            }
            return out;
        }
        double[] v = a.castTo(DataType.DOUBLE).toDoubleVector();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] != Math.rint(v[i]) || Math.abs(v[i]) > Integer.MAX_VALUE - 1)
                throw new LoupeException(file + ": labels must be integers (class ids), but index " + i + " is " + v[i]
                        + " (" + t.name().toLowerCase() + " file); for regression targets use a ridge probe");
            out[i] = (int) v[i];
        }
        return out;
    }

    /**
     * One label per position of every sequence of {@code tokens}, batch-major (the rows of
     * {@link CacheRows#of}); padding positions get {@link #IGNORE}.
     */
    public static int[] perPosition(Tokens tokens, PositionLabel fn) {
        int batch = tokens.batch(), len = tokens.length();
        int[] out = new int[batch * len];
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < len; p++)
                out[b * len + p] = tokens.isToken(b, p) ? fn.label(tokens.ids()[b], p) : IGNORE;
        return out;
    }

    /**
     * One label per row of {@code store}: rows hold every position of every sequence in order
     * (sequence after sequence), so each sequence's tokens are read once and labelled by position.
     */
    public static int[] perPosition(ActivationStore store, PositionLabel fn) {
        long rows = store.rows();
        int context = store.manifest().contextSize();
        if (rows > Integer.MAX_VALUE - 8)
            throw new LoupeException(store.dir() + ": " + rows + " rows is more than labels in memory can index");
        int[] out = new int[(int) rows];
        for (long from = 0; from < rows; from += context) {
            int[] seq = store.tokens(from, context);
            for (int p = 0; p < context; p++) out[(int) from + p] = fn.label(seq, p);
        }
        return out;
    }
}
