package dev.loupe.saes.train;

import dev.loupe.saes.Encoder;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * SAELens's {@code JumpReLUTrainingSAE} (Google DeepMind's "step" sparsity loss):
 * {@code acts = pre · [pre > θ]} with {@code θ = exp(log_threshold)}, loss
 * {@code mean_b ||x̂ - x||² + l0 · mean_b Σ_f [pre_f > θ_f]}. The step has no gradient; as SAELens, θ gets
 * the straight-through pseudo-gradients with a rectangle kernel of width {@code bandwidth}:
 * {@code ∂acts/∂θ = -(θ/bw) rect((pre - θ)/bw)} and {@code ∂step/∂θ = -(1/bw) rect((pre - θ)/bw)},
 * {@code rect(z) = [-1/2 < z < 1/2]}; inputs get the true gradient {@code [pre > θ]}.
 */
final class JumpReLUTrainingSae extends TrainingSae {
    JumpReLUTrainingSae(SaeSpec spec, int dIn, long seed) {
        super(spec, dIn, seed);
    }

    @Override
    protected Map<String, long[]> vectorParams() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("b_enc", new long[] {dSae});
        m.put("log_threshold", new long[] {dSae});
        return m;
    }

    @Override
    protected void initializeVectors() {
        p.get("log_threshold").assign(Math.log(spec.jumpreluInitThreshold()));
    }

    /** θ = exp(log_threshold) [d_sae]. */
    INDArray threshold() {
        return Transforms.exp(p.get("log_threshold"), true);
    }

    @Override
    public StepOutput step(INDArray x, StepContext ctx) {
        long b = x.size(0);
        double bw = spec.jumpreluBandwidth();
        INDArray saeIn = saeIn(x);
        INDArray pre = Encoder.pre(saeIn, wEnc(), p.get("b_enc")); // [B, d_sae]
        INDArray theta = threshold();
        INDArray above = pre.subRowVector(theta); // pre - θ
        INDArray mask = above.gt(0).castTo(DataType.FLOAT); // [pre > θ]
        INDArray acts = pre.mul(mask);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dIn}, 'c');
        out.assign(bDec.reshape(1, dIn).broadcast(b, dIn));
        Nd4j.gemm(acts, wDec, out, false, false, 1.0, 1.0);
        INDArray diff = out.subi(x);
        double sse = diff.norm2Number().doubleValue();
        sse *= sse;
        double active = mask.sumNumber().doubleValue();
        double l0 = ctx.l0() * active / b;

        INDArray gOut = diff.muli(2.0 / b);
        Nd4j.gemm(acts, gOut, p.grad("W_dec"), true, false, 1.0, 0.0);
        INDArray gActs = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dSae}, 'c');
        Nd4j.gemm(gOut, wDec, gActs, false, true, 1.0, 0.0);
        INDArray rect = Transforms.abs(above.divi(bw), false).lt(0.5).castTo(DataType.FLOAT); // rect((pre - θ)/bw)
        // θ's pseudo-gradient: JumpReLU's -(θ/bw) Σ_b rect·gActs, plus the step's -(1/bw) Σ_b rect·(l0/B)
        INDArray gTheta = rect.mul(gActs).sum(0).muli(theta).muli(-1 / bw);
        if (ctx.l0() > 0) gTheta.subi(rect.sum(0).muli(ctx.l0() / (b * bw)));
        p.grad("log_threshold").assign(gTheta.muli(theta)); // dθ/dlogθ = θ
        INDArray gPre = gActs.muli(mask);
        Nd4j.gemm(gPre, saeIn, p.grad("W_enc"), true, false, 1.0, 0.0);
        INDArray gBEnc = gPre.sum(0);
        p.grad("b_enc").assign(gBEnc);
        INDArray gBDec = p.grad("b_dec").assign(gOut.sum(0));
        if (spec.applyBDecToInput())
            gBDec.subi(gBEnc.reshape(1, dSae).mmul(wEncT).reshape(dIn));

        Map<String, Double> losses = new LinkedHashMap<>();
        losses.put("mse_loss", sse / b);
        losses.put("l0_loss", l0);
        return new StepOutput(sse / b + l0, losses, firedColumns(acts), active / b, explainedVariance(x, sse));
    }

    @Override
    protected Map<String, INDArray> inferenceTensors() {
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("W_enc", wEncT.transpose().dup('c'));
        t.put("b_enc", p.get("b_enc").dup());
        t.put("W_dec", wDec.dup());
        t.put("b_dec", bDec.dup());
        t.put("threshold", threshold()); // SAELens saves exp(log_threshold) as threshold
        return t;
    }
}
