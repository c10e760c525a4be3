package dev.loupe.saes.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.saes.Architecture;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Every architecture's hand-written gradients against central finite differences of its loss, parameter
 * by parameter (float32; tolerance 0.5% + 1e-4). An entry whose differences at two step sizes disagree
 * has a kink in reach (a ReLU, a top-k, gate or JumpReLU boundary) and is skipped; at least 70% of the
 * tested entries must be smooth. JumpReLU's threshold gets SAELens's pseudo-gradient, which no finite
 * difference gives: it is checked against its definition instead.
 */
class GradientCheckTest {
    static final int D_IN = 6, D_SAE = 16, ROWS = 9;

    static INDArray batch(long seed) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.FLOAT, ROWS, D_IN).muli(0.8).addi(0.1);
    }

    /** Perturbs the encoder, biases and decoder away from the kaiming init, so that every path is exercised. */
    static TrainingSae sae(SaeSpec spec, long seed) {
        TrainingSae s = TrainingSae.create(spec.withBDecInit(SaeSpec.BDecInit.ZEROS), D_IN, seed);
        Nd4j.getRandom().setSeed(seed + 1);
        INDArray v = s.params().values();
        v.addi(Nd4j.randn(DataType.FLOAT, v.length()).muli(0.15));
        return s;
    }

    @Test
    void standardWithL1() {
        check(sae(SaeSpec.of("h", Architecture.STANDARD, D_SAE, 0), 1), new StepContext(5, 0.7, 0, null), "standard");
        check(
                sae(SaeSpec.of("h", Architecture.STANDARD, D_SAE, 0).withApplyBDecToInput(false), 2),
                new StepContext(5, 0.3, 0, null),
                "standard, b_dec not applied to the input");
    }

    @Test
    void topKWithAndWithoutRescalingAndAuxK() {
        boolean[] dead = new boolean[D_SAE];
        for (int f = 0; f < D_SAE; f += 3) dead[f] = true;
        SaeSpec spec = SaeSpec.of("h", Architecture.TOPK, D_SAE, 4).withAuxLossCoefficient(0.5);
        check(sae(spec, 3), new StepContext(0, 0, 0, null), "topk");
        check(sae(spec, 4), new StepContext(0, 0, 0, dead), "topk with dead latents (AuxK)");
        check(sae(spec.withRescaleActsByDecoderNorm(false), 5), new StepContext(0, 0, 0, dead), "topk, no rescaling");
        check(sae(spec.withApplyBDecToInput(false), 6), new StepContext(0, 0, 0, dead), "topk, b_dec not applied");
    }

    @Test
    void batchTopK() {
        boolean[] dead = new boolean[D_SAE];
        dead[1] = dead[7] = dead[12] = true;
        check(
                sae(SaeSpec.of("h", Architecture.BATCHTOPK, D_SAE, 3), 7),
                new StepContext(0, 0, 0, dead),
                "batchtopk with dead latents");
    }

    @Test
    void gated() {
        check(sae(SaeSpec.of("h", Architecture.GATED, D_SAE, 0), 8), new StepContext(0, 0.4, 0, null), "gated");
    }

    @Test
    void jumpReluByFiniteDifferencesAndItsThresholdByDefinition() {
        SaeSpec spec = SaeSpec.of("h", Architecture.JUMPRELU, D_SAE, 0).withJumpRelu(0.3, 0.05);
        TrainingSae sae = sae(spec, 9);
        StepContext ctx = new StepContext(0, 0, 0.6, null);
        check(sae, ctx, "jumprelu (all but log_threshold)");

        // log_threshold: SAELens's Step and JumpReLU backward, from their definitions, in double
        INDArray x = batch(9);
        sae.step(x, ctx);
        INDArray got = sae.params().grad("log_threshold").dup();
        ParamSet p = sae.params();
        INDArray saeIn = x.subRowVector(p.get("b_dec")).castTo(DataType.DOUBLE);
        INDArray wEnc = p.get("W_enc").transpose().castTo(DataType.DOUBLE);
        INDArray pre = saeIn.mmul(wEnc).addRowVector(p.get("b_enc").castTo(DataType.DOUBLE)); // [B, d_sae]
        double[] theta = Transforms.exp(p.get("log_threshold"), true).toDoubleVector();
        double bw = 0.3;
        INDArray wDec = p.get("W_dec").castTo(DataType.DOUBLE);
        INDArray acts = pre.dup();
        for (int b = 0; b < ROWS; b++)
            for (int f = 0; f < D_SAE; f++) if (!(pre.getDouble(b, f) > theta[f])) acts.putScalar(b, f, 0);
        INDArray out = acts.mmul(wDec).addRowVector(p.get("b_dec").castTo(DataType.DOUBLE));
        INDArray gOut = out.sub(x.castTo(DataType.DOUBLE)).muli(2.0 / ROWS);
        INDArray gActs = gOut.mmul(wDec.transpose());
        int nonzero = 0;
        for (int f = 0; f < D_SAE; f++) {
            double gTheta = 0;
            for (int b = 0; b < ROWS; b++) {
                double z = (pre.getDouble(b, f) - theta[f]) / bw;
                double rect = z > -0.5 && z < 0.5 ? 1 : 0;
                gTheta += -(theta[f] / bw) * rect * gActs.getDouble(b, f); // JumpReLU.backward
                gTheta += -(1 / bw) * rect * (0.6 / ROWS); // Step.backward, grad_output = l0 / B
            }
            double expected = gTheta * theta[f]; // chain rule through θ = exp(log_threshold)
            if (expected != 0) nonzero++;
            assertEquals(expected, got.getDouble(f), 1e-5 + 1e-4 * Math.abs(expected), "log_threshold[" + f + "]");
        }
        assertTrue(nonzero >= D_SAE / 2, "the bandwidth should put most thresholds in reach: " + nonzero);
    }

    /**
     * Compares every parameter's gradient (but log_threshold) with central differences at two step sizes,
     * 1e-2 and 4e-3: between kinks the loss is (nearly) quadratic in one parameter, where central
     * differences are exact, so they agree; a kink within reach makes them disagree, and the entry is
     * skipped.
     */
    static void check(TrainingSae sae, StepContext ctx, String what) {
        INDArray x = batch(what.hashCode());
        if (sae instanceof TopKTrainingSae topk) {
            // SAELens detaches AuxK's residual x - x̂: hold it fixed, so that finite differences see what autograd sees
            topk.recordResidual = true;
            topk.step(x, new StepContext(0, 0, 0, null));
            topk.fixedResidual = topk.lastResidual;
        }
        sae.step(x, ctx);
        INDArray grads = sae.params().grads().dup();
        INDArray values = sae.params().values();
        int tested = 0, smooth = 0;
        long offset = 0;
        SplittableRandom rng = new SplittableRandom(what.hashCode());
        for (var e : sae.params().shapes().entrySet()) {
            long len = 1;
            for (long d : e.getValue()) len *= d;
            if (!e.getKey().equals("log_threshold")) {
                for (int t = 0; t < Math.min(len, 25); t++) {
                    long i = offset + (len <= 25 ? t : rng.nextLong(len));
                    double wide = central(sae, x, ctx, values, i, 1e-2), narrow = central(sae, x, ctx, values, i, 4e-3);
                    tested++;
                    if (Math.abs(wide - narrow) > 0.001 * Math.abs(wide) + 5e-5) continue; // a kink in reach
                    smooth++;
                    assertEquals(
                            narrow,
                            grads.getDouble(i),
                            0.005 * Math.abs(narrow) + 1e-4,
                            what + ": d loss / d " + e.getKey() + "[" + (i - offset) + "]");
                }
            }
            offset += len;
        }
        System.out.printf("%-45s %d of %d entries smooth and checked%n", what, smooth, tested);
        assertTrue(smooth >= 0.7 * tested, what + ": only " + smooth + " of " + tested + " entries were smooth");
    }

    private static double central(TrainingSae sae, INDArray x, StepContext ctx, INDArray values, long i, double eps) {
        float v = values.getFloat(i);
        values.putScalar(i, v + eps);
        double up = sae.step(x, ctx).loss();
        values.putScalar(i, v - eps);
        double down = sae.step(x, ctx).loss();
        values.putScalar(i, v);
        return (up - down) / (2 * eps);
    }
}
