package dev.loupe.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Weights;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** AdamW against torch.optim.AdamW's update rule written out element by element in doubles. */
class AdamWTest {

    @Test
    void matchesPyTorchsAdamWElementByElement() {
        ModelConfig cfg = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dVocab(11)
                .nCtx(6)
                .dtype("float64")
                .build();
        HookedTransformer model = HookedTransformer.random(cfg, 3);
        TrainingConfig c = TrainingConfig.builder()
                .lr(0.01)
                .weightDecay(0.1)
                .betas(0.8, 0.95)
                .eps(1e-6)
                .build();
        AdamW opt = new AdamW(cfg, model.weights());
        Map<String, double[]> p = new LinkedHashMap<>(), m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
        for (String n : opt.weights().names()) {
            p.put(n, opt.weights().get(n).dup('c').data().asDouble());
            m.put(n, new double[p.get(n).length]);
            v.put(n, new double[p.get(n).length]);
        }
        Random rng = new Random(7);
        for (int t = 1; t <= 3; t++) {
            Map<String, INDArray> grads = new LinkedHashMap<>();
            Map<String, double[]> g = new LinkedHashMap<>();
            for (String n : opt.weights().names()) {
                INDArray compute =
                        Nd4j.rand(DataType.DOUBLE, opt.weights().get(n).shape()).subi(0.5);
                g.put(n, compute.dup('c').data().asDouble());
                grads.put(n, Weights.toTransformerLensLayout(n, compute, cfg)); // as ForwardResult gives them
            }
            double lr = 0.01 * t, scale = 0.5;
            opt.loadGradients(grads);
            opt.update(lr, scale, c);
            for (String n : p.keySet()) {
                boolean decays = opt.weights().get(n).rank() >= 2;
                double[] pp = p.get(n), mm = m.get(n), vv = v.get(n), gg = g.get(n);
                for (int i = 0; i < pp.length; i++) {
                    double gi = gg[i] * scale;
                    if (decays) pp[i] *= 1 - lr * c.weightDecay();
                    mm[i] = c.beta1() * mm[i] + (1 - c.beta1()) * gi;
                    vv[i] = c.beta2() * vv[i] + (1 - c.beta2()) * gi * gi;
                    double mHat = mm[i] / (1 - Math.pow(c.beta1(), t)), vHat = vv[i] / (1 - Math.pow(c.beta2(), t));
                    pp[i] -= lr * mHat / (Math.sqrt(vHat) + c.eps());
                }
            }
        }
        for (String n : p.keySet()) {
            double[] got = opt.weights().get(n).dup('c').data().asDouble();
            for (int i = 0; i < got.length; i++) assertEquals(p.get(n)[i], got[i], 1e-12, n + "[" + i + "]");
        }
        assertEquals(3, opt.stepCount());
    }

    @Test
    void theModelsWeightsAreViewsOfTheOptimizersBuffer() {
        ModelConfig cfg = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dVocab(11)
                .nCtx(6)
                .build();
        AdamW opt = new AdamW(cfg, HookedTransformer.random(cfg, 1).weights());
        INDArray we = opt.weights().get("embed.W_E");
        double before = we.getDouble(0, 0);
        Map<String, INDArray> grads = new LinkedHashMap<>();
        for (String n : opt.weights().names())
            grads.put(
                    n,
                    Weights.toTransformerLensLayout(
                            n, Nd4j.ones(DataType.FLOAT, opt.weights().get(n).shape()), cfg));
        opt.loadGradients(grads);
        opt.update(0.1, 1, TrainingConfig.builder().weightDecay(0).build());
        assertEquals(before - 0.1, we.getDouble(0, 0), 1e-5); // Adam's first step moves each weight by ~lr
        assertSame(we, opt.weights().get("embed.W_E"));
    }

    @Test
    void shardGradientsAddUp() {
        ModelConfig cfg = ModelConfig.builder()
                .dModel(8)
                .nLayers(1)
                .nHeads(2)
                .dVocab(11)
                .nCtx(6)
                .build();
        AdamW opt = new AdamW(cfg, HookedTransformer.random(cfg, 1).weights());
        Map<String, INDArray> g = new LinkedHashMap<>();
        for (String n : opt.weights().names())
            g.put(
                    n,
                    Weights.toTransformerLensLayout(
                            n, Nd4j.rand(DataType.FLOAT, opt.weights().get(n).shape()), cfg));
        double norm2 = 0;
        for (INDArray x : g.values()) norm2 += Math.pow(x.mul(6).norm2Number().doubleValue(), 2);
        for (int round = 0; round < 2; round++) { // shard 0 replaces the previous step's gradients
            for (int k = 0; k < 3; k++) {
                Map<String, INDArray> scaled = new LinkedHashMap<>();
                int factor = k + 1;
                g.forEach((n, x) -> scaled.put(n, x.mul(factor)));
                opt.addGradients(k, scaled);
            }
            assertEquals(
                    Math.sqrt(norm2),
                    opt.gradientNorm(),
                    1e-4 * Math.sqrt(norm2),
                    "1x + 2x + 3x of the same gradients");
        }
    }
}
