package dev.loupe.saes.train;

import dev.loupe.saes.Encoder;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * SAELens's {@code StandardTrainingSAE} (Anthropic's April 2024 update): {@code acts = relu(sae_in @ W_enc
 * + b_enc)}, loss {@code mean_b ||x̂ - x||² + l1 · mean_b Σ_f acts_f ||W_dec[f]||} (the L1 penalty weighted
 * by the decoder norms, which are not constrained).
 */
final class StandardTrainingSae extends TrainingSae {
    StandardTrainingSae(SaeSpec spec, int dIn, long seed) {
        super(spec, dIn, seed);
    }

    @Override
    protected Map<String, long[]> vectorParams() {
        return Map.of("b_enc", new long[] {dSae});
    }

    @Override
    public StepOutput step(INDArray x, StepContext ctx) {
        long b = x.size(0);
        INDArray saeIn = saeIn(x); // [B, d_in]
        INDArray pre = Encoder.pre(saeIn, wEnc(), p.get("b_enc")); // [B, d_sae]
        INDArray acts = Transforms.relu(pre, true);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dIn}, 'c');
        out.assign(bDec.reshape(1, dIn).broadcast(b, dIn));
        Nd4j.gemm(acts, wDec, out, false, false, 1.0, 1.0); // x̂ = acts @ W_dec + b_dec
        INDArray diff = out.subi(x); // x̂ - x
        double sse = diff.norm2Number().doubleValue();
        sse *= sse;
        INDArray norms = wDec.norm2(1); // [d_sae]
        double l1 = ctx.l1() * acts.mulRowVector(norms).sumNumber().doubleValue() / b;

        INDArray gOut = diff.muli(2.0 / b); // d mse / d x̂
        Nd4j.gemm(acts, gOut, p.grad("W_dec"), true, false, 1.0, 0.0); // acts^T gOut
        INDArray gActs = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dSae}, 'c');
        Nd4j.gemm(gOut, wDec, gActs, false, true, 1.0, 0.0); // gOut @ W_dec^T
        if (ctx.l1() > 0) {
            // d/dW_dec[f] of l1/B Σ_b acts_bf ||W_dec[f]|| = l1/B (Σ_b acts_bf) W_dec[f] / ||W_dec[f]||
            INDArray perLatent = acts.sum(0).divi(norms).muli(ctx.l1() / b);
            p.grad("W_dec").addi(wDec.mulColumnVector(perLatent.reshape(dSae, 1)));
            gActs.addiRowVector(norms.mul(ctx.l1() / b));
        }
        INDArray gPre = gActs.muli(pre.gt(0).castTo(DataType.FLOAT)); // relu'
        backToInput(saeIn, gPre, gOut.sum(0));

        Map<String, Double> losses = new LinkedHashMap<>();
        losses.put("mse_loss", sse / b);
        losses.put("l1_loss", l1);
        float[] fired = firedColumns(acts);
        double nonzero = 0;
        for (float f : fired) nonzero += f;
        return new StepOutput(sse / b + l1, losses, fired, nonzero / b, explainedVariance(x, sse));
    }

    /** The encoder's gradients from {@code gPre} [B, d_sae], and b_dec's: {@code gBDecOut} minus what flows through the input. */
    private void backToInput(INDArray saeIn, INDArray gPre, INDArray gBDecOut) {
        Nd4j.gemm(gPre, saeIn, p.grad("W_enc"), true, false, 1.0, 0.0); // (W_enc^T) grad = gPre^T sae_in
        INDArray gBEnc = gPre.sum(0);
        p.grad("b_enc").assign(gBEnc);
        INDArray gBDec = p.grad("b_dec").assign(gBDecOut);
        if (spec.applyBDecToInput())
            gBDec.subi(gBEnc.reshape(1, dSae).mmul(wEncT).reshape(dIn)); // - W_enc gBEnc
    }
}
