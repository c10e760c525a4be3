package dev.loupe.probes;

import dev.loupe.engine.SharedData;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.probes.data.CacheRows;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Real activations for the probe tests: the embedded modadd-1l, and stories260K from ../shared when present. */
final class Fixtures {
    static final int P = 113;

    private Fixtures() {}

    /** modadd-1l's activations of {@code hook} at the '=' position for pairs a·p+b = first, first+step, ... (n pairs). */
    static Modadd modadd(String hook, int n, int step) {
        HookedTransformer m = Zoo.load("modadd-1l");
        int[][] ids = new int[n][];
        int[] a = new int[n], b = new int[n];
        for (int i = 0; i < n; i++) {
            int pair = (int) ((long) i * step % (P * P));
            a[i] = pair / P;
            b[i] = pair % P;
            ids[i] = new int[] {a[i], b[i], P};
        }
        ActivationCache cache =
                m.runWithCache(Tokens.of(ids), ActivationFilter.names(hook)).cache();
        return new Modadd(CacheRows.at(cache, hook, -1), a, b);
    }

    record Modadd(INDArray x, int[] a, int[] b) {
        int[] sum() {
            int[] s = new int[a.length];
            for (int i = 0; i < s.length; i++) s[i] = (a[i] + b[i]) % P;
            return s;
        }
    }

    /** stories260K's residual stream after block {@code layer} on random-but-fixed sequences, with their tokens. */
    static Stories stories(int layer, int sequences, int length, long seed) {
        HookedTransformer m = ModelLoader.load(
                SharedData.require("models/stories260K/stories260K.bin").toString());
        SplittableRandom rng = new SplittableRandom(seed);
        int[][] ids = new int[sequences][length];
        for (int s = 0; s < sequences; s++) {
            ids[s][0] = 1;
            // a short random segment, repeated: the second copy's tokens are repeats
            int half = (length - 1) / 2;
            for (int p = 1; p <= half; p++) ids[s][p] = 3 + rng.nextInt(300);
            for (int p = half + 1; p < length; p++) ids[s][p] = ids[s][p - half];
        }
        Tokens tokens = Tokens.of(ids);
        String hook = "blocks." + layer + ".hook_resid_post";
        ActivationCache cache =
                m.runWithCache(tokens, ActivationFilter.names(hook)).cache();
        return new Stories(CacheRows.of(cache, hook), tokens);
    }

    record Stories(INDArray x, Tokens tokens) {}
}
