package dev.loupe.saes;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An SAE's input or output flattened to rows: [..., d] becomes [n, d] (float32, c order), and back.
 * A {@code hook_z} SAE also takes [..., n_heads, d_head] with {@code n_heads · d_head = d_in}.
 */
record Rows(INDArray matrix, long[] shape, int trailing) {

    /** Inputs [..., d_in] (or [..., n_heads, d_head] for hook_z SAEs). */
    static Rows of(INDArray x, SaeConfig c, String what) {
        if (x == null) throw new LoupeException(what + " is null");
        long[] s = x.shape();
        int trailing;
        if (s.length >= 1 && s[s.length - 1] == c.dIn()) trailing = 1;
        else if (c.reshapeActivations().equals("hook_z")
                && s.length >= 2
                && s[s.length - 1] * s[s.length - 2] == c.dIn()) trailing = 2;
        else
            throw new LoupeException(what + " has shape " + Arrays.toString(s) + " but the SAE (" + c.describe()
                    + ") takes [..., " + c.dIn() + "]"
                    + (c.reshapeActivations().equals("hook_z") ? " or [..., n_heads, d_head]" : ""));
        return new Rows(flatten(x, c.dIn()), s, trailing);
    }

    /** Latent activations [..., d_sae]. */
    static Rows ofLatents(INDArray acts, SaeConfig c) {
        if (acts == null) throw new LoupeException("latent activations are null");
        long[] s = acts.shape();
        if (s.length < 1 || s[s.length - 1] != c.dSae())
            throw new LoupeException("latent activations have shape " + Arrays.toString(s) + " but the SAE ("
                    + c.describe() + ") has d_sae = " + c.dSae());
        return new Rows(flatten(acts, c.dSae()), s, 1);
    }

    private static INDArray flatten(INDArray x, long width) {
        INDArray f = x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
        long n = f.length() / width;
        INDArray m = f.reshape('c', n, width);
        return m.ordering() == 'c' && org.nd4j.linalg.api.shape.Shape.hasDefaultStridesForShape(m) ? m : m.dup('c');
    }

    /** Rows [n, width] back to the leading dimensions of the input: [..., width]. */
    INDArray restore(INDArray rows, long width) {
        long[] out = Arrays.copyOf(shape, shape.length - trailing + 1);
        out[out.length - 1] = width;
        return rows.reshape('c', out);
    }

    /** Rows [n, d_in] back to the input's own shape (hook_z inputs regain their head dimension). */
    INDArray restoreInput(INDArray rows, SaeConfig c) {
        if (trailing == 2) return rows.reshape('c', shape);
        return restore(rows, c.dIn());
    }
}
