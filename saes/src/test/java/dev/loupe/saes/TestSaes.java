package dev.loupe.saes;

import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** SAEs with known behaviour for tests. */
public final class TestSaes {
    private TestSaes() {}

    /** A standard SAE that reconstructs exactly: latents relu(x) and relu(-x), decoded as their difference. */
    public static Sae exact(int dIn, String hook) {
        INDArray eye = Nd4j.eye(dIn).castTo(DataType.FLOAT);
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("W_enc", Nd4j.hstack(eye, eye.neg())); // [d_in, 2 d_in]
        t.put("b_enc", Nd4j.zeros(DataType.FLOAT, 2 * dIn));
        t.put("W_dec", Nd4j.vstack(eye, eye.neg())); // [2 d_in, d_in]
        t.put("b_dec", Nd4j.zeros(DataType.FLOAT, dIn));
        return Saes.create(
                SaeConfig.of(Architecture.STANDARD, dIn, 2 * dIn, 0)
                        .withApplyBDecToInput(false)
                        .withHookName(hook),
                t,
                "exact");
    }

    /** A random SAE of {@code arch} on {@code hook}. */
    public static Sae random(Architecture arch, int dIn, int dSae, int k, String hook, long seed) {
        Nd4j.getRandom().setSeed(seed);
        SaeConfig cfg = SaeConfig.of(arch, dIn, dSae, k).withHookName(hook);
        Map<String, INDArray> t = new LinkedHashMap<>();
        BaseSae.expectedShapes(cfg)
                .forEach((name, shape) ->
                        t.put(name, Nd4j.randn(DataType.FLOAT, shape).muli(0.2)));
        if (arch == Architecture.JUMPRELU)
            t.put("threshold", Nd4j.rand(DataType.FLOAT, dSae).muli(0.1));
        return Saes.create(cfg, t, "random");
    }
}
