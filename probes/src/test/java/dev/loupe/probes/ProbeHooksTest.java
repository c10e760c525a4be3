package dev.loupe.probes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.probes.hooks.ProbeHooks;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Steering adds α·direction at every position; ablation leaves no component along the direction. */
class ProbeHooksTest {
    static final String HOOK = "blocks.1.hook_resid_post";

    INDArray activation() {
        Nd4j.getRandom().setSeed(3);
        return Nd4j.randn(DataType.FLOAT, 2, 5, 8); // [batch, pos, d_model]
    }

    INDArray direction() {
        return Nd4j.createFromArray(1f, -2f, 0f, 0.5f, 3f, 0f, -1f, 2f);
    }

    @Test
    void steeringAddsAlphaTimesTheDirectionAtEveryPosition() {
        INDArray x = activation();
        Hook h = ProbeHooks.steer(HOOK, direction(), 2.5);
        assertEquals(HOOK, h.description());
        INDArray out = h.forward().apply(x.dup(), null);
        assertEquals(java.util.Arrays.toString(x.shape()), java.util.Arrays.toString(out.shape()));
        INDArray added = out.sub(x).reshape(10, 8);
        for (int r = 0; r < 10; r++)
            assertTrue(added.getRow(r).equalsWithEps(direction().mul(2.5f), 1e-5), "row " + r + ": " + added.getRow(r));
    }

    @Test
    void ablationProjectsTheDirectionOut() {
        INDArray x = activation();
        INDArray u = direction().castTo(DataType.DOUBLE).div(direction().norm2Number());
        INDArray out = ProbeHooks.ablate(HOOK, direction()).forward().apply(x.dup(), null);
        INDArray rows = out.castTo(DataType.DOUBLE).reshape(10, 8),
                before = x.castTo(DataType.DOUBLE).reshape(10, 8);
        INDArray along = rows.mmul(u.reshape(8, 1)); // [10, 1]: nothing left along u
        assertTrue(along.amaxNumber().doubleValue() < 1e-5, "component left along the direction: " + along);
        // and nothing else changed: out + (x·u) u = x
        INDArray removed = before.mmul(u.reshape(8, 1)).mmul(u.reshape(1, 8));
        assertTrue(rows.add(removed).equalsWithEps(before, 1e-5));
    }

    @Test
    void badShapesAndMissingHooksAreNamed() {
        LoupeException wrongWidth =
                assertThrows(LoupeException.class, () -> ProbeHooks.steer(HOOK, Nd4j.ones(DataType.FLOAT, 5), 1)
                        .forward()
                        .apply(activation(), null));
        assertTrue(
                wrongWidth.getMessage().contains(HOOK)
                        && wrongWidth.getMessage().contains("5 values"),
                wrongWidth.getMessage());
        LoupeException zero =
                assertThrows(LoupeException.class, () -> ProbeHooks.ablate(HOOK, Nd4j.zeros(DataType.FLOAT, 8)));
        assertTrue(zero.getMessage().contains("zero"), zero.getMessage());
        MassMeanProbe noHook = MassMeanProbe.create()
                .fit(Nd4j.createFromArray(new float[][] {{0, 1}, {1, 0}, {0, 2}, {2, 0}}), new int[] {0, 1, 0, 1});
        LoupeException e = assertThrows(LoupeException.class, () -> ProbeHooks.steer(noHook, 1));
        assertTrue(e.getMessage().contains("no hook point"), e.getMessage());
    }
}
