package dev.loupe.engine.model;

import static org.junit.jupiter.api.Assertions.*;

import dev.loupe.engine.autograd.Tensor;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Finite differences in float64 against the autodiff gradients, for every weight and every hook
 * point of every architecture in {@link TestModels}, on a padded batch. Together the test models
 * turn every architectural option on (Gemma 2's and 3's, Llama 3's, Qwen 3's and OLMo 2's included), which
 * {@link #theTestModelsTurnEveryOptionOn} guards.
 */
class GradientCheckTest {
    static final double EPS = 1e-6;
    static final Tokens TOKENS =
            Tokens.padded(List.of(new int[] {1, 5, 9, 3, 7}, new int[] {4, 2, 10}), 0, Tokens.Side.LEFT);

    /** A scalar that depends on logits and on an intermediate activation. */
    static Objective objective(ModelConfig cfg) {
        return objective(cfg, true);
    }

    static Objective objective(ModelConfig cfg, boolean readsActivation) {
        Nd4j.getRandom().setSeed(99);
        INDArray r1 = Nd4j.randn(DataType.DOUBLE, 2, 5, cfg.dVocab());
        INDArray r2 = Nd4j.randn(DataType.DOUBLE, 2, 5, cfg.dModel());
        return out -> {
            Tensor logits = out.logits();
            Tensor value = logits.mul(logits.graph().constant(r1)).sum().add(Losses.nextToken(logits, TOKENS));
            if (!readsActivation) return value;
            Tensor a = out.activation("blocks.0.hook_resid_post");
            return value.add(a.square().mul(a.graph().constant(r2)).sum().mul(0.1));
        };
    }

    static double value(HookedTransformer m, Objective o, Hook... hooks) {
        return m.forward(ForwardRequest.of(TOKENS).hooks(hooks).gradientsOf(o).build())
                .objective();
    }

    static void assertClose(double fd, double ad, String what) {
        assertEquals(fd, ad, 1e-6 + 1e-5 * Math.abs(fd), what + ": finite difference " + fd + " vs autodiff " + ad);
    }

    @Test
    void everyWeightAndHookPointMatchesFiniteDifferences() {
        for (var e : TestModels.all("float64").entrySet()) {
            ModelConfig cfg = e.getValue().toBuilder()
                    .useAttnResult(e.getValue().attnOnly())
                    .build();
            HookedTransformer m = TestModels.model(cfg, 11);
            Objective o = objective(cfg);
            ForwardResult r = m.runWithCache(TOKENS, ActivationFilter.all(), o);
            Random rnd = new Random(5);
            int checked = 0;
            // weights: perturb the compute-layout array in place, read the TransformerLens-layout gradient
            for (String name : m.weights().names()) {
                INDArray w = m.weights().get(name);
                INDArray gradCompute =
                        Weights.fromTransformerLensLayout(name, r.weightGrads().get(name), cfg);
                for (int k = 0; k < 2; k++) {
                    long i = rnd.nextInt((int) w.length());
                    double orig = w.getDouble(i);
                    w.putScalar(i, orig + EPS);
                    double plus = value(m, o);
                    w.putScalar(i, orig - EPS);
                    double minus = value(m, o);
                    w.putScalar(i, orig);
                    assertClose(
                            (plus - minus) / (2 * EPS),
                            gradCompute.getDouble(i),
                            e.getKey() + " weight " + name + "[" + i + "]");
                    checked++;
                }
            }
            // hook points: perturb one element through a forward hook, compare with <name>_grad
            for (String name : m.hookNames()) {
                INDArray grad = r.cache().get(name + "_grad");
                INDArray act = r.cache().get(name);
                assertArrayEquals(act.shape(), grad.shape(), name);
                for (int k = 0; k < 1; k++) {
                    long i = rnd.nextInt((int) act.length());
                    if (Double.isInfinite(act.getDouble(i))) continue; // masked attention score
                    double[] vals = new double[2];
                    for (int s = 0; s < 2; s++) {
                        double delta = s == 0 ? EPS : -EPS;
                        vals[s] = value(m, o, Hook.forward(name, (a, h) -> {
                            INDArray p = a.dup();
                            p.putScalar(i, p.getDouble(i) + delta);
                            return p;
                        }));
                    }
                    assertClose(
                            (vals[0] - vals[1]) / (2 * EPS),
                            grad.getDouble(i),
                            e.getKey() + " hook " + name + "[" + i + "]");
                    checked++;
                }
            }
            assertTrue(checked > 50, e.getKey());
        }
    }

    /** The loop above checks every option only if some test model turns it on. */
    @Test
    void theTestModelsTurnEveryOptionOn() {
        var all = TestModels.all("float64").values();
        assertTrue(all.stream().anyMatch(ModelConfig::useNormalizationBeforeAndAfter), "norms after sublayers");
        assertTrue(all.stream().anyMatch(c -> c.embedScale() != 1), "embedding scale");
        assertTrue(all.stream().anyMatch(c -> c.attnScale() != Math.sqrt(c.dHead())), "attention scale");
        assertTrue(all.stream().anyMatch(c -> c.attnScoresSoftCap() > 0), "score soft-cap");
        assertTrue(all.stream().anyMatch(c -> c.outputLogitsSoftCap() > 0), "logit soft-cap");
        assertTrue(
                all.stream()
                        .anyMatch(c -> c.windowSize() > 0
                                && c.windowSize() < TOKENS.length()
                                && c.localAttnLayers().size() < c.nLayers()),
                "local and global layers, window shorter than the tokens");
        assertTrue(all.stream().anyMatch(c -> c.ropeScaling() != null), "rotary scaling");
        assertTrue(all.stream().anyMatch(c -> c.qkNorm() == ModelConfig.QkNorm.PER_HEAD), "q/k norm per head");
        assertTrue(all.stream().anyMatch(c -> c.qkNorm() == ModelConfig.QkNorm.ALL_HEADS), "q/k norm over all heads");
        assertTrue(all.stream().anyMatch(ModelConfig::useNormalizationAfterOnly), "norms after the sublayers only");
        assertTrue(
                all.stream()
                        .anyMatch(c -> c.rotaryBaseLocal() != c.rotaryBase()
                                && !c.localAttnLayers().isEmpty()),
                "a local rotary base");
    }

    @Test
    void backwardHooksReadAndReplaceGradients() {
        ModelConfig cfg = TestModels.all("float64").get("gpt2-like");
        HookedTransformer m = TestModels.model(cfg, 12);
        Objective o = objective(cfg, false);
        List<INDArray> seen = new ArrayList<>();
        ForwardResult read = m.forward(ForwardRequest.of(TOKENS)
                .cache(ActivationFilter.names("blocks.1.hook_resid_pre"))
                .hooks(Hook.backward("blocks.1.hook_resid_pre", (g, h) -> {
                    seen.add(g.dup());
                    return null;
                }))
                .gradientsOf(o)
                .build());
        assertEquals(1, seen.size());
        assertEquals(
                0,
                seen.get(0)
                        .sub(read.cache().get("blocks.1.hook_resid_pre_grad"))
                        .amaxNumber()
                        .doubleValue(),
                0);
        // Cutting the gradient where block 1 starts leaves nothing for block 0 and the embeddings.
        ForwardResult cut = m.forward(ForwardRequest.of(TOKENS)
                .hooks(Hook.backward("blocks.1.hook_resid_pre", (g, h) -> Nd4j.zerosLike(g)))
                .gradientsOf(o)
                .build());
        Map<String, INDArray> g = cut.weightGrads();
        assertEquals(0, g.get("blocks.0.attn.W_Q").amaxNumber().doubleValue(), 0);
        assertEquals(0, g.get("embed.W_E").amaxNumber().doubleValue(), 0);
        assertTrue(g.get("blocks.1.mlp.W_out").amaxNumber().doubleValue() > 0);
        assertEquals(read.objective(), cut.objective(), 0);
    }
}
