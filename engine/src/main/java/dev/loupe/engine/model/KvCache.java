package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Keys and values of the positions already processed, per layer, so that generation runs only the
 * new tokens through the model. Keys are stored after rotary embedding. Also remembers which past
 * positions were padding and how many real tokens each sequence has seen (its next position).
 */
public final class KvCache {
    private final INDArray[] keys, values; // per layer: [batch, past, kv_heads, d_head]
    private final INDArray[] stagedKeys, stagedValues; // past + the pass in progress; kept by advance()
    private int[][] pastMask; // [batch][past]: 1 = token
    private int[] nextPosition; // [batch]

    public KvCache(int nLayers) {
        keys = new INDArray[nLayers];
        values = new INDArray[nLayers];
        stagedKeys = new INDArray[nLayers];
        stagedValues = new INDArray[nLayers];
    }

    public int length() {
        return pastMask == null ? 0 : pastMask[0].length;
    }

    /** Number of sequences cached, or -1 while empty. */
    int batch() {
        return pastMask == null ? -1 : pastMask.length;
    }

    int[][] pastMask() {
        return pastMask;
    }

    int nextPosition(int b) {
        return nextPosition == null ? 0 : nextPosition[b];
    }

    /** A layer's keys and values at every position so far: [batch, past + new, kv_heads, d_head] each. */
    record KeysAndValues(INDArray keys, INDArray values) {}

    /**
     * The keys and values a pass attends over in {@code layer}: the cached positions' followed by
     * the new ones ({@code newKeys}, {@code newValues}: [batch, new, kv_heads, d_head]). They are
     * staged, and {@link #advance} keeps them; staging rather than appending means a pass that fails
     * part-way (a hook throws, say) leaves the cache as it was, instead of some layers one pass
     * longer than the others.
     */
    KeysAndValues extend(int layer, INDArray newKeys, INDArray newValues) {
        stagedKeys[layer] = keys[layer] == null ? newKeys.dup() : Nd4j.concat(1, keys[layer], newKeys);
        stagedValues[layer] = values[layer] == null ? newValues.dup() : Nd4j.concat(1, values[layer], newValues);
        return new KeysAndValues(stagedKeys[layer], stagedValues[layer]);
    }

    /**
     * Checks that a pass can extend this cache: it runs every layer ({@code fromLayer} 0 to
     * {@code toLayer} n_layers) of a model with this many layers, over as many sequences as cached.
     */
    void checkPass(int modelLayers, int fromLayer, int toLayer, int batch) {
        if (fromLayer > 0 || toLayer < modelLayers)
            throw new LoupeException("a KV-cached pass must run every layer (startAtLayer=" + fromLayer
                    + ", stopAtLayer=" + toLayer + ")");
        if (keys.length != modelLayers)
            throw new LoupeException("the KV cache has " + keys.length + " layers, the model " + modelLayers);
        if (batch() >= 0 && batch() != batch)
            throw new LoupeException("the KV cache holds " + batch() + " sequences but the tokens have " + batch);
    }

    /** After a pass over new tokens (every layer staged): keeps the staged keys/values, extends the padding mask and positions. */
    void advance(Tokens tokens) {
        for (int l = 0; l < keys.length; l++) {
            if (stagedKeys[l] == null) throw new IllegalStateException("KV cache: layer " + l + " was not run");
            keys[l] = stagedKeys[l];
            values[l] = stagedValues[l];
            stagedKeys[l] = stagedValues[l] = null;
        }
        int B = tokens.batch(), T = tokens.length(), past = length();
        int[][] mask = new int[B][past + T];
        if (nextPosition == null) nextPosition = new int[B];
        for (int b = 0; b < B; b++) {
            if (pastMask != null) System.arraycopy(pastMask[b], 0, mask[b], 0, past);
            for (int p = 0; p < T; p++) {
                mask[b][past + p] = tokens.isToken(b, p) ? 1 : 0;
                nextPosition[b] += mask[b][past + p];
            }
        }
        pastMask = mask;
    }
}
