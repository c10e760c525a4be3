package dev.loupe.probes.data;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.HookNames;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Activations of a cache as probe rows: a per-token hook point {@code [batch, pos, ...]} becomes
 * {@code [batch·pos, d]} (batch-major, the order of {@link Labels#perPosition(dev.loupe.engine.model.Tokens,
 * Labels.PositionLabel)}), trailing dimensions flattened ({@code hook_z} {@code [batch, pos, head,
 * d_head]} gives {@code d = head·d_head}, as the activations store does).
 */
public final class CacheRows {
    private CacheRows() {}

    /** Every position of {@code hook} (full or short name). */
    public static INDArray of(ActivationCache cache, String hook) {
        INDArray a = cache.get(hook);
        check(hook, a);
        long d = Arrays.stream(a.shape()).skip(2).reduce(1, (x, y) -> x * y);
        return a.dup('c').reshape('c', a.size(0) * a.size(1), d);
    }

    /** One position of every sequence, {@code [batch, d]}; a negative position counts from the end (-1: last). */
    public static INDArray at(ActivationCache cache, String hook, int position) {
        INDArray a = cache.get(hook);
        check(hook, a);
        long len = a.size(1);
        long p = position < 0 ? len + position : position;
        if (p < 0 || p >= len)
            throw new LoupeException(
                    HookNames.actName(hook, -1) + ": position " + position + " is outside 0.." + (len - 1));
        long d = Arrays.stream(a.shape()).skip(2).reduce(1, (x, y) -> x * y);
        INDArray at = a.get(NDArrayIndex.all(), NDArrayIndex.point(p)); // [batch, ...]
        return at.dup('c').reshape('c', a.size(0), d);
    }

    private static void check(String hook, INDArray a) {
        if (a.rank() < 3)
            throw new LoupeException("hook " + hook + " has shape " + Arrays.toString(a.shape())
                    + "; probes need a per-token activation [batch, pos, ...]");
        String full = HookNames.actName(hook, -1);
        if (full.endsWith("hook_pattern") || full.endsWith("hook_attn_scores"))
            throw new LoupeException("hook " + hook + " is [batch, head, q_pos, k_pos], not one row per token");
    }
}
