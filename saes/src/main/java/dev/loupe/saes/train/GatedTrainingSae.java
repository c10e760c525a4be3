package dev.loupe.saes.train;

import dev.loupe.saes.Encoder;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * SAELens's {@code GatedTrainingSAE} (Rajamanoharan et al. 2024): a gate {@code π_gate = sae_in @ W_enc +
 * b_gate} decides which latents fire ({@code [π_gate > 0]}, no gradient), a magnitude path
 * {@code relu(sae_in @ (W_enc · exp(r_mag)) + b_mag)} how strongly. The gate learns from two extra terms:
 * {@code l1 · mean_b Σ_f relu(π_gate)_f ||W_dec[f]||} and the auxiliary reconstruction
 * {@code mean_b ||relu(π_gate) @ W_dec + b_dec - x||²}.
 */
final class GatedTrainingSae extends TrainingSae {
    GatedTrainingSae(SaeSpec spec, int dIn, long seed) {
        super(spec, dIn, seed);
    }

    @Override
    protected Map<String, long[]> vectorParams() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("b_gate", new long[] {dSae});
        m.put("b_mag", new long[] {dSae});
        m.put("r_mag", new long[] {dSae});
        return m;
    }

    @Override
    public StepOutput step(INDArray x, StepContext ctx) {
        long b = x.size(0);
        INDArray saeIn = saeIn(x);
        INDArray expR = Transforms.exp(p.get("r_mag"), true);
        INDArray wMag = wEnc().mulRowVector(expR); // [d_in, d_sae]
        INDArray gatePre = Encoder.pre(saeIn, wEnc(), p.get("b_gate"));
        INDArray gate = gatePre.gt(0).castTo(DataType.FLOAT);
        INDArray magPre = Encoder.pre(saeIn, wMag, p.get("b_mag"));
        INDArray acts = Transforms.relu(magPre, true).muli(gate);
        INDArray gateAct = Transforms.relu(gatePre, true); // relu(π_gate)
        INDArray norms = wDec.norm2(1);

        INDArray out = decode(acts, b);
        INDArray diff = out.subi(x);
        double sse = sq(diff);
        INDArray via = decode(gateAct, b);
        INDArray viaDiff = via.subi(x);
        double auxSse = sq(viaDiff);
        double l1 = ctx.l1() * gateAct.mulRowVector(norms).sumNumber().doubleValue() / b;

        INDArray gOut = diff.muli(2.0 / b), gVia = viaDiff.muli(2.0 / b);
        // decoder: both reconstructions, plus the L1 term's dependence on the norms
        INDArray gWDec = p.grad("W_dec");
        Nd4j.gemm(acts, gOut, gWDec, true, false, 1.0, 0.0);
        Nd4j.gemm(gateAct, gVia, gWDec, true, false, 1.0, 1.0);
        if (ctx.l1() > 0)
            gWDec.addi(wDec.mulColumnVector(
                    gateAct.sum(0).divi(norms).muli(ctx.l1() / b).reshape(dSae, 1)));
        INDArray gBDec = p.grad("b_dec").assign(gOut.sum(0).addi(gVia.sum(0)));
        // magnitude path
        INDArray gMagPre = matmulT(gOut, b).muli(gate).muli(magPre.gt(0).castTo(DataType.FLOAT));
        INDArray gWMag = Nd4j.gemm(saeIn, gMagPre, true, false); // [d_in, d_sae]
        p.grad("b_mag").assign(gMagPre.sum(0));
        p.grad("r_mag").assign(gWMag.mul(wMag).sum(0)); // d/dr_f: Σ_d gW_mag[d,f] W_mag[d,f]
        // gate path: the L1 term and the auxiliary reconstruction, through relu(π_gate)
        INDArray gGateAct = matmulT(gVia, b);
        if (ctx.l1() > 0) gGateAct.addiRowVector(norms.mul(ctx.l1() / b));
        INDArray gGatePre = gGateAct.muli(gatePre.gt(0).castTo(DataType.FLOAT));
        p.grad("b_gate").assign(gGatePre.sum(0));
        // W_enc: from the gate directly and from W_mag = W_enc · exp(r_mag)
        INDArray gWEnc = Nd4j.gemm(saeIn, gGatePre, true, false).addi(gWMag.mulRowVector(expR)); // [d_in, d_sae]
        p.grad("W_enc").assign(gWEnc.transpose());
        if (spec.applyBDecToInput()) {
            // sae_in = x - b_dec feeds both paths: - Σ_b (gGatePre @ W_enc^T + gMagPre @ W_mag^T)
            INDArray back = gGatePre.sum(0)
                    .reshape(1, dSae)
                    .mmul(wEncT)
                    .addi(gMagPre.sum(0).reshape(1, dSae).mmul(wMag.transpose()));
            gBDec.subi(back.reshape(dIn));
        }

        Map<String, Double> losses = new LinkedHashMap<>();
        losses.put("mse_loss", sse / b);
        losses.put("l1_loss", l1);
        losses.put("auxiliary_reconstruction_loss", auxSse / b);
        float[] fired = firedColumns(acts);
        double nonzero = 0;
        for (float f : fired) nonzero += f;
        return new StepOutput(sse / b + l1 + auxSse / b, losses, fired, nonzero / b, explainedVariance(x, sse));
    }

    private INDArray decode(INDArray acts, long b) {
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dIn}, 'c');
        out.assign(bDec.reshape(1, dIn).broadcast(b, dIn));
        Nd4j.gemm(acts, wDec, out, false, false, 1.0, 1.0);
        return out;
    }

    /** {@code g @ W_dec^T} [B, d_sae]. */
    private INDArray matmulT(INDArray g, long b) {
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dSae}, 'c');
        Nd4j.gemm(g, wDec, out, false, true, 1.0, 0.0);
        return out;
    }

    private static double sq(INDArray a) {
        double n = a.norm2Number().doubleValue();
        return n * n;
    }
}
