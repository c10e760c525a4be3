package dev.loupe.probes.hooks;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.probes.Probe;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A probe's direction back in the model, as forward hooks for {@code runWithHooks},
 * {@code model.withHooks} or {@code Generator.generate}: steering adds {@code α · direction} to the
 * activation at every position; ablation removes the activation's component along the direction,
 * {@code x − (x·u) u} with u the unit direction. The activation may have any shape
 * {@code [batch, pos, ...]} whose trailing dimensions hold d values (hook_z's [head, d_head] is
 * flattened as the store and {@code CacheRows} flatten it).
 */
public final class ProbeHooks {
    private ProbeHooks() {}

    /** Adds {@code alpha × probe.direction()} at the probe's hook. */
    public static Hook steer(Probe probe, double alpha) {
        return steer(requireHook(probe), probe.direction(), alpha);
    }

    /** Adds {@code alpha × probe.unitDirection()} at the probe's hook: alpha is in activation-norm units. */
    public static Hook steerUnit(Probe probe, double alpha) {
        return steer(requireHook(probe), probe.unitDirection(), alpha);
    }

    /** Adds {@code alpha × direction} [d] to the activation at {@code hook} (full or short name). */
    public static Hook steer(String hook, INDArray direction, double alpha) {
        String name = HookNames.actName(hook, -1);
        INDArray v =
                direction.castTo(DataType.FLOAT).reshape(direction.length()).mul(alpha);
        return Hook.forward(name, (x, h) -> {
            INDArray rows = rows(x, v.length(), name);
            INDArray out = rows.addRowVector(v.castTo(x.dataType()));
            return out.reshape('c', x.shape());
        });
    }

    /** Projects the probe's direction out of the activation at its hook. */
    public static Hook ablate(Probe probe) {
        return ablate(requireHook(probe), probe.direction());
    }

    /** Projects {@code direction} [d] out of the activation at {@code hook}: x − (x·u) u, u = direction / ‖direction‖. */
    public static Hook ablate(String hook, INDArray direction) {
        String name = HookNames.actName(hook, -1);
        double norm = direction.norm2Number().doubleValue();
        if (!(norm > 0)) throw new LoupeException("ablate: the direction for " + name + " is zero");
        INDArray u =
                direction.castTo(DataType.DOUBLE).reshape(direction.length(), 1).div(norm); // [d, 1]
        return Hook.forward(name, (x, h) -> {
            INDArray rows = rows(x, u.length(), name).castTo(DataType.DOUBLE); // [n, d]
            INDArray out = rows.sub(rows.mmul(u).mmul(u.transpose()));
            return out.castTo(x.dataType()).reshape('c', x.shape());
        });
    }

    private static String requireHook(Probe probe) {
        if (probe.hook() == null)
            throw new LoupeException(
                    probe.kind() + " probe has no hook point; fit it with a hook (builder .hook(name), "
                            + "a store, or a sweep) or pass the hook name");
        return probe.hook();
    }

    /** The activation as c-ordered rows [n, d]. */
    private static INDArray rows(INDArray x, long d, String name) {
        long[] s = x.shape();
        long trailing = 1;
        int k = s.length;
        while (k > 0 && trailing < d) trailing *= s[--k];
        if (trailing != d || k < 1)
            throw new LoupeException("hook " + name + " has shape " + Arrays.toString(s) + "; its trailing dimensions"
                    + " do not hold the direction's " + d + " values");
        return x.dup('c').reshape('c', x.length() / d, d);
    }
}
