package dev.loupe.saes.eval;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.saes.Sae;
import dev.loupe.saes.SaePass;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SAELens's evaluations ({@code sae_lens/evals.py}): sparsity and reconstruction metrics over
 * activations, and with the model the cross-entropy with the SAE spliced in against the clean model
 * and against zero-ablating the hook — CE loss recovered, {@code (ce_ablation - ce_sae) / (ce_ablation -
 * ce_clean)} — and the KL divergence from the clean model's next-token distribution.
 *
 * <p>Where SAELens's code disagrees with its own intent, Loupe follows the intent and says so:
 * {@code explained_variance} is {@code 1 - E||x - x̂||² / (E||x||² - ||E x||²)} over all evaluated tokens,
 * and {@code mse} is the mean squared error per element (SAELens divides the per-token squared error by
 * the number of tokens in the batch).
 */
public final class SaeEvals {
    private SaeEvals() {}

    /** Sparsity and reconstruction metrics of {@code sae} over batches of activations [n, d_in]. */
    public static SaeEvalReport ofActivations(Sae sae, Iterable<INDArray> batches, EvalConfig config) {
        Accumulator acc = new Accumulator(sae.config().dSae());
        for (INDArray x : batches) {
            SaePass pass = sae.run(x);
            acc.add(pass.input(), pass.actsPost(), pass.output());
        }
        return new SaeEvalReport(name(sae), acc.metrics(config.denseThreshold()), acc.density(), acc.tokens);
    }

    /**
     * Everything, with the model: for each batch of token sequences, the clean run (caching the SAE's
     * hook), the run with the reconstruction spliced in (positions of ignored tokens keep their
     * activation, as SAELens's replacement hook does), and the run with the hook's activation zeroed.
     */
    public static SaeEvalReport withModel(
            HookedTransformer model, Sae sae, List<Tokens> batches, EvalConfig config, ProgressBar progress) {
        String hook = sae.config().hookName();
        if (hook == null)
            throw new LoupeException("the SAE (" + sae.config().describe() + ") has no hook_name in its config");
        if (!model.hookNames().contains(hook))
            throw new LoupeException("the SAE's hook '" + hook + "' is not a hook point of the model (" + model + ")");
        Accumulator acc = new Accumulator(sae.config().dSae());
        double ceClean = 0, ceSae = 0, ceAblation = 0, klSae = 0, klAblation = 0;
        long cePositions = 0, klPositions = 0;
        int done = 0;
        for (Tokens tokens : batches) {
            INDArray cleanLogits, act;
            try (ForwardResult r = model.forward(ForwardRequest.of(tokens)
                    .cache(ActivationFilter.names(hook))
                    .build())) {
                cleanLogits = r.logits().dup();
                act = r.cache().get(hook).dup();
            }
            long[] shape = act.shape();
            int dIn = sae.config().dIn();
            if (shape[shape.length - 1] != dIn && act.length() % dIn != 0)
                throw new LoupeException("hook '" + hook + "' has activations " + java.util.Arrays.toString(shape)
                        + " but the SAE's d_in is " + dIn);
            INDArray rows = act.castTo(DataType.FLOAT).reshape('c', act.length() / dIn, dIn);
            boolean[] keep = keptPositions(tokens, config);
            SaePass pass = sae.run(rows);
            INDArray replaced = pass.output().dup();
            List<Integer> kept = new ArrayList<>();
            for (int i = 0; i < keep.length; i++) {
                if (keep[i]) kept.add(i);
                else replaced.putRow(i, rows.getRow(i));
            }
            if (!kept.isEmpty()) {
                int[] idx = kept.stream().mapToInt(Integer::intValue).toArray();
                acc.add(pull(rows, idx), pull(pass.actsPost(), idx), pull(pass.output(), idx));
            }
            INDArray replacement = replaced.reshape('c', shape).castTo(act.dataType());
            INDArray saeLogits = model.forward(ForwardRequest.of(tokens)
                            .hooks(Hook.forward(hook, (a, p) -> replacement))
                            .build())
                    .logits();
            INDArray ablLogits = model.forward(ForwardRequest.of(tokens)
                            .hooks(Hook.forward(hook, (a, p) -> Nd4j.zerosLike(a)))
                            .build())
                    .logits();
            INDArray lpClean = TokenLosses.logSoftmax(cleanLogits),
                    lpSae = TokenLosses.logSoftmax(saeLogits),
                    lpAbl = TokenLosses.logSoftmax(ablLogits);
            int[][] ids = tokens.ids();
            double[][] c0 = TokenLosses.crossEntropy(lpClean, tokens),
                    c1 = TokenLosses.crossEntropy(lpSae, tokens),
                    c2 = TokenLosses.crossEntropy(lpAbl, tokens);
            for (int b = 0; b < ids.length; b++)
                for (int p = 0; p + 1 < ids[b].length; p++)
                    if (tokens.isToken(b, p) && tokens.isToken(b, p + 1)) {
                        ceClean += c0[b][p];
                        ceSae += c1[b][p];
                        ceAblation += c2[b][p];
                        cePositions++;
                    }
            klSae += TokenLosses.kl(lpClean, lpSae).sumNumber().doubleValue();
            klAblation += TokenLosses.kl(lpClean, lpAbl).sumNumber().doubleValue();
            klPositions += (long) ids.length * ids[0].length;
            progress.update(
                    ++done,
                    String.format(
                            java.util.Locale.ROOT, "CE %.4f -> %.4f", ceClean / cePositions, ceSae / cePositions));
        }
        Map<String, Double> m = new LinkedHashMap<>(acc.metrics(config.denseThreshold()));
        double clean = ceClean / cePositions, withSae = ceSae / cePositions, ablation = ceAblation / cePositions;
        m.put("ce_loss_without_sae", clean);
        m.put("ce_loss_with_sae", withSae);
        m.put("ce_loss_with_ablation", ablation);
        m.put("ce_loss_score", (ablation - withSae) / (ablation - clean));
        double kls = klSae / klPositions, kla = klAblation / klPositions;
        m.put("kl_div_with_sae", kls);
        m.put("kl_div_with_ablation", kla);
        m.put("kl_div_score", (kla - kls) / kla);
        return new SaeEvalReport(name(sae), m, acc.density(), acc.tokens);
    }

    private static boolean[] keptPositions(Tokens tokens, EvalConfig config) {
        int[][] ids = tokens.ids();
        boolean[] keep = new boolean[ids.length * ids[0].length];
        for (int b = 0; b < ids.length; b++)
            for (int p = 0; p < ids[b].length; p++)
                keep[b * ids[b].length + p] =
                        tokens.isToken(b, p) && !config.ignoreTokens().contains(ids[b][p]);
        return keep;
    }

    private static INDArray pull(INDArray rows, int[] idx) {
        return Nd4j.pullRows(rows, 1, idx, 'c');
    }

    static String name(Sae sae) {
        return sae.config().describe();
    }

    /** Sums over tokens for every metric. */
    private static final class Accumulator {
        final double[] fired;
        long tokens;
        double l0, l1, sqErr, sqIn, legacy, cos, normIn, normOut, ratio, sqOut, dot;
        double[] sumIn;

        Accumulator(int dSae) {
            fired = new double[dSae];
        }

        void add(INDArray x, INDArray acts, INDArray xHat) {
            INDArray xd = x.castTo(DataType.DOUBLE), hd = xHat.castTo(DataType.DOUBLE);
            long n = xd.size(0);
            if (sumIn == null) sumIn = new double[(int) xd.size(1)];
            INDArray nonzero = acts.neq(0).castTo(DataType.DOUBLE);
            l0 += nonzero.sumNumber().doubleValue();
            l1 += acts.castTo(DataType.DOUBLE).sumNumber().doubleValue();
            double[] f = nonzero.sum(0).toDoubleVector();
            for (int i = 0; i < fired.length; i++) fired[i] += f[i];
            INDArray err = xd.sub(hd);
            INDArray errSq = err.mul(err).sum(1); // [n]
            sqErr += errSq.sumNumber().doubleValue();
            INDArray inSq = xd.mul(xd).sum(1),
                    outSq = hd.mul(hd).sum(1),
                    dots = xd.mul(hd).sum(1);
            sqIn += inSq.sumNumber().doubleValue();
            sqOut += outSq.sumNumber().doubleValue();
            dot += dots.sumNumber().doubleValue();
            double[] s = xd.sum(0).toDoubleVector();
            for (int i = 0; i < s.length; i++) sumIn[i] += s[i];
            INDArray centred = xd.subRowVector(xd.mean(0));
            INDArray batchVar = centred.mul(centred).sum(1);
            legacy += n - errSq.div(batchVar).sumNumber().doubleValue();
            INDArray nIn = org.nd4j.linalg.ops.transforms.Transforms.sqrt(inSq, true),
                    nOut = org.nd4j.linalg.ops.transforms.Transforms.sqrt(outSq, true);
            cos += dots.div(nIn.mul(nOut)).sumNumber().doubleValue();
            normIn += nIn.sumNumber().doubleValue();
            normOut += nOut.sumNumber().doubleValue();
            INDArray safeIn = nIn.dup(); // SAELens: norms below 1e-4 count as 1 in the ratio
            org.nd4j.linalg.indexing.BooleanIndexing.replaceWhere(
                    safeIn, 1.0, org.nd4j.linalg.indexing.conditions.Conditions.lessThan(1e-4));
            ratio += nOut.div(safeIn).sumNumber().doubleValue();
            tokens += n;
        }

        double[] density() {
            double[] d = new double[fired.length];
            for (int i = 0; i < d.length; i++) d[i] = tokens == 0 ? 0 : fired[i] / tokens;
            return d;
        }

        Map<String, Double> metrics(double denseThreshold) {
            Map<String, Double> m = new LinkedHashMap<>();
            double t = Math.max(1, tokens);
            m.put("l0", l0 / t);
            m.put("l1", l1 / t);
            m.put("mse", sqErr / t / (sumIn == null ? 1 : sumIn.length));
            double meanSq = 0;
            if (sumIn != null) for (double s : sumIn) meanSq += (s / t) * (s / t);
            double totalVariance = sqIn / t - meanSq;
            double ev = 1 - (sqErr / t) / totalVariance;
            m.put("explained_variance", ev);
            m.put("explained_variance_legacy", legacy / t);
            m.put("fvu", 1 - ev);
            m.put("cossim", cos / t);
            m.put("l2_norm_in", normIn / t);
            m.put("l2_norm_out", normOut / t);
            m.put("l2_ratio", ratio / t);
            m.put("relative_reconstruction_bias", (sqOut / t) / (dot / t));
            int dead = 0, dense = 0;
            for (double d : density()) {
                if (d == 0) dead++;
                if (d > denseThreshold) dense++;
            }
            m.put("dead_fraction", dead / (double) fired.length);
            m.put("dense_fraction", dense / (double) fired.length);
            return m;
        }
    }
}
