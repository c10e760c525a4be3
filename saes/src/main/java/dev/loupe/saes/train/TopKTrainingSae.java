package dev.loupe.saes.train;

import dev.loupe.saes.kernels.SparseCodes;
import dev.loupe.saes.kernels.SparseOps;
import dev.loupe.saes.kernels.TopKSelect;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SAELens's {@code TopKTrainingSAE}: {@code hidden_pre = (sae_in @ W_enc + b_enc) · ||W_dec[f]||} (with
 * {@code rescale_acts_by_decoder_norm}, SAELens's default), each row keeps its k largest, then ReLU; the
 * decoder divides by the norms again. Loss: {@code mean_b ||x̂ - x||²} plus, when some latents are dead,
 * the AuxK loss: the top {@code d_in/2} dead latents of {@code hidden_pre} (their raw values) reconstruct
 * the residual {@code x - x̂} (detached), {@code aux · min(n_dead / (d_in/2), 1) · mean_b ||dec(aux) - (x - x̂)||²}.
 *
 * <p>Only the encoder GEMM is dense. The k active latents of each row are kept as {@link SparseCodes}, and
 * the decoder, the codes' gradient and the gradients of {@code W_dec} and {@code W_enc} are computed
 * entry by entry (one BLAS level-1 call each), so they cost k/d_sae of the dense products.
 *
 * <p>Gradients: for an entry (b, f) with {@code s = u · n_f} ({@code u} the unscaled pre-activation),
 * decoder coefficient {@code a = relu(s) / n_f}: {@code ∂L/∂a = g_b · W_dec[f]}, {@code ∂L/∂u = ∂L/∂a · [s > 0]},
 * and the two appearances of {@code n_f} cancel ({@code a = relu(u)} for {@code n_f > 0}), so the norms
 * steer the selection but receive no gradient.
 */
class TopKTrainingSae extends TrainingSae {
    private INDArray raw; // [B, d_sae], reused: the largest array of a step, allocated once
    /**
     * For gradient checks only: AuxK's residual {@code x - x̂} is detached in SAELens, so its true derivative
     * differs from the gradient; a test records it ({@code recordResidual}) and holds it fixed.
     */
    boolean recordResidual;

    INDArray fixedResidual, lastResidual;

    TopKTrainingSae(SaeSpec spec, int dIn, long seed) {
        super(spec, dIn, seed);
    }

    @Override
    protected Map<String, long[]> vectorParams() {
        return Map.of("b_enc", new long[] {dSae});
    }

    /** The selected latents of a batch: {@code hidden_pre} values at the entries. */
    protected SparseCodes select(INDArray raw, float[] bEnc, float[] norms, int rows) {
        return TopKSelect.perRow(raw, bEnc, norms, spec.k(), null);
    }

    /** Told the selected codes after each step (BatchTopK updates its threshold). */
    protected void selected(SparseCodes codes) {}

    @Override
    public StepOutput step(INDArray x, StepContext ctx) {
        int b = (int) x.size(0);
        INDArray saeIn = saeIn(x); // [B, d_in]
        if (raw == null || raw.size(0) != b)
            raw = Nd4j.createUninitializedDetached(DataType.FLOAT, 'c', b, dSae); // outside any step workspace
        Nd4j.gemm(saeIn, wEnc(), raw, false, false, 1.0, 0.0); // sae_in @ W_enc, the one dense product
        float[] bEnc = p.get("b_enc").toFloatVector();
        float[] norms = spec.rescaleActsByDecoderNorm() ? wDec.norm2(1).toFloatVector() : null;
        SparseCodes codes = select(raw, bEnc, norms, b); // values: hidden_pre
        float[] s = codes.value();
        int[] idx = codes.index();
        float[] a = new float[s.length]; // decoder coefficients: relu(s) · (1/n)
        for (int e = 0; e < s.length; e++) {
            float v = s[e] > 0 ? s[e] : 0;
            a[e] = norms == null ? v : v * (1 / norms[idx[e]]);
        }
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dIn}, 'c');
        out.assign(bDec.reshape(1, dIn).broadcast(b, dIn));
        SparseOps.decodeInto(codes, a, wDec, out);
        INDArray diff = out.subi(x); // x̂ - x
        double sse = diff.norm2Number().doubleValue();
        sse *= sse;
        INDArray gOut = diff.mul(2.0 / b);
        if (recordResidual) lastResidual = diff.neg();

        float[] gA = SparseOps.entryDots(codes, gOut, wDec); // ∂L/∂a = gOut[b] · W_dec[f]
        float[] gU = new float[s.length];
        for (int e = 0; e < s.length; e++) gU[e] = s[e] > 0 ? gA[e] : 0;
        int[] rowsOf = codes.entryRows();
        SparseCodes.LatentIndex byLatent = codes.byLatent();
        SparseOps.scatterRows(codes, byLatent, rowsOf, a, gOut, p.grad("W_dec"), true);
        SparseOps.scatterRows(codes, byLatent, rowsOf, gU, saeIn, p.grad("W_enc"), true);
        float[] gBEnc = SparseOps.latentSums(byLatent, gU, dSae);
        INDArray gBDec = p.grad("b_dec").assign(gOut.sum(0));

        Map<String, Double> losses = new LinkedHashMap<>();
        losses.put("mse_loss", sse / b);
        double aux = 0;
        int[] dead = ctx.deadLatents();
        if (dead.length > 0 && spec.auxLossCoefficient() > 0)
            aux = auxK(x, diff, raw, bEnc, norms, dead, saeIn, gBEnc, gBDec);
        losses.put("auxiliary_reconstruction_loss", aux);

        p.grad("b_enc").assign(Nd4j.create(gBEnc));
        if (spec.applyBDecToInput())
            gBDec.subi(Nd4j.create(gBEnc).reshape(1, dSae).mmul(wEncT).reshape(dIn));
        selected(codes);
        float[] fired = new float[dSae];
        long nonzero = 0;
        for (int e = 0; e < s.length; e++)
            if (s[e] > 0) {
                fired[idx[e]]++;
                nonzero++;
            }
        return new StepOutput(sse / b + aux, losses, fired, nonzero / (double) b, explainedVariance(x, sse));
    }

    /**
     * SAELens's {@code calculate_topk_aux_loss}; adds its gradients to W_dec, W_enc (as it goes), b_dec and
     * {@code gBEnc} (for the caller to flow through the input). Returns the loss.
     */
    private double auxK(
            INDArray x,
            INDArray diff,
            INDArray raw,
            float[] bEnc,
            float[] norms,
            int[] dead,
            INDArray saeIn,
            float[] gBEnc,
            INDArray gBDec) {
        int b = (int) x.size(0);
        int kAux = dIn / 2;
        double scale = Math.min(dead.length / (double) kAux, 1.0);
        kAux = Math.min(kAux, dead.length);
        if (kAux < 1) return 0;
        SparseCodes codes = TopKSelect.perRow(raw, bEnc, norms, kAux, dead); // raw hidden_pre values, no relu
        float[] s = codes.value();
        int[] idx = codes.index();
        float[] a = new float[s.length];
        for (int e = 0; e < s.length; e++) a[e] = norms == null ? s[e] : s[e] * (1 / norms[idx[e]]);
        INDArray recons = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, dIn}, 'c');
        recons.assign(bDec.reshape(1, dIn).broadcast(b, dIn));
        SparseOps.decodeInto(codes, a, wDec, recons);
        INDArray auxDiff = fixedResidual != null ? recons.subi(fixedResidual) : recons.addi(diff); // recons - (x - x̂)
        double sse = auxDiff.norm2Number().doubleValue();
        double coef = spec.auxLossCoefficient() * scale;
        double loss = coef * sse * sse / b;
        INDArray g = auxDiff.muli(2 * coef / b);
        gBDec.addi(g.sum(0));
        float[] gA = SparseOps.entryDots(codes, g, wDec); // ∂/∂u = ∂/∂a: a = u for n > 0
        int[] rowsOf = codes.entryRows();
        SparseCodes.LatentIndex byLatent = codes.byLatent();
        SparseOps.scatterRows(codes, byLatent, rowsOf, a, g, p.grad("W_dec"), false);
        SparseOps.scatterRows(codes, byLatent, rowsOf, gA, saeIn, p.grad("W_enc"), false);
        float[] more = SparseOps.latentSums(byLatent, gA, dSae);
        for (int f = 0; f < dSae; f++) gBEnc[f] += more[f];
        return loss;
    }

    @Override
    protected Map<String, INDArray> inferenceTensors() {
        Map<String, INDArray> t = super.inferenceTensors();
        if (spec.rescaleActsByDecoderNorm()) {
            // SAELens's _fold_norm_topk: b_enc · n, W_dec / n, W_enc · n (per latent)
            INDArray n = t.get("W_dec").norm2(1);
            t.put("b_enc", t.get("b_enc").mul(n));
            t.put("W_dec", t.get("W_dec").divColumnVector(n.reshape(dSae, 1)));
            t.put("W_enc", t.get("W_enc").mulRowVector(n));
        }
        return t;
    }
}
