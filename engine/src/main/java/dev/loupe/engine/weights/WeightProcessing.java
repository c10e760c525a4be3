package dev.loupe.engine.weights;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.Weights;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * TransformerLens's weight processing ({@code HookedTransformer.process_weights_}): rewrites of the
 * parameters that leave the model's function unchanged (exactly, or up to a per-position constant
 * added to the logits, which softmax ignores) but make the weights easier to read.
 * <pre>{@code
 * HookedTransformer processed = WeightProcessing.process(model, WeightProcessing.Options.defaults());
 * HookedTransformer folded = WeightProcessing.foldLayerNorm(model);
 * }</pre>
 * Every operation returns a <em>new</em> model that owns fresh arrays (and, where the architecture
 * changes, a new config); the input model and its arrays are never modified. The returned model
 * carries none of the input's permanent hooks: hooks written for the unprocessed model may not
 * mean the same thing afterwards (see {@code docs/weight-processing.md}).
 * <p>
 * Shapes below are the compute layout of {@link Weights}: W_Q/W_K/W_V [d_model, heads * d_head],
 * W_O [heads * d_head, d_model], W_in/W_gate [d_model, d_mlp], W_out [d_mlp, d_model],
 * W_E [d_vocab, d_model], W_pos [n_ctx, d_model], W_U [d_model, d_vocab].
 */
public final class WeightProcessing {

    private WeightProcessing() {}

    /**
     * Which steps {@link #process} runs, in TransformerLens's order. TransformerLens's defaults
     * ({@code from_pretrained}) are all on.
     *
     * @param foldLn               {@link #foldLayerNorm} (with centring of the folded weights for LayerNorm)
     * @param centerWritingWeights {@link #centerWritingWeights}; skipped, as TransformerLens does, when the
     *                             model's normalization does not subtract the mean (RMSNorm, none)
     * @param centerUnembed        {@link #centerUnembed}
     * @param foldValueBiases      {@link #foldValueBiases}
     */
    public record Options(
            boolean foldLn, boolean centerWritingWeights, boolean centerUnembed, boolean foldValueBiases) {
        /** Every step on, as TransformerLens's {@code from_pretrained} does. */
        public static Options defaults() {
            return new Options(true, true, true, true);
        }

        /** Every step off: {@link #process} then only copies the model. */
        public static Options none() {
            return new Options(false, false, false, false);
        }

        public Options withFoldLn(boolean v) {
            return new Options(v, centerWritingWeights, centerUnembed, foldValueBiases);
        }

        public Options withCenterWritingWeights(boolean v) {
            return new Options(foldLn, v, centerUnembed, foldValueBiases);
        }

        public Options withCenterUnembed(boolean v) {
            return new Options(foldLn, centerWritingWeights, v, foldValueBiases);
        }

        public Options withFoldValueBiases(boolean v) {
            return new Options(foldLn, centerWritingWeights, centerUnembed, v);
        }
    }

    // ------------------------------------------------------------------ public operations

    /** {@link #process(HookedTransformer, Options)} with {@link Options#defaults()}. */
    public static HookedTransformer process(HookedTransformer model) {
        return process(model, Options.defaults());
    }

    /**
     * TransformerLens's standard sequence: fold_ln, center_writing_weights, center_unembed,
     * fold_value_biases, each as enabled by {@code options}. As TransformerLens does, center_unembed
     * is skipped for a model that soft-caps its logits; fold_ln is skipped for a model whose block
     * norms act on the sublayers' outputs (OLMo 2). The model is copied once and every
     * step works on that copy.
     */
    public static HookedTransformer process(HookedTransformer model, Options options) {
        Work w = new Work(model);
        // OLMo 2's ln1/ln2 normalise the sublayers' outputs: nothing reads them but the residual stream.
        if (options.foldLn() && !w.cfg.useNormalizationAfterOnly()) foldLayerNorm(w, true);
        if (options.centerWritingWeights() && w.cfg.normalization().centers()) centerWritingWeights(w);
        // As TransformerLens: a constant added to every logit is not harmless once the logits are soft-capped.
        if (options.centerUnembed() && w.cfg.outputLogitsSoftCap() == 0) centerUnembed(w);
        if (options.foldValueBiases()) foldValueBiases(w);
        return w.build();
    }

    /** {@link #foldLayerNorm(HookedTransformer, boolean)} with centring, as TransformerLens does. */
    public static HookedTransformer foldLayerNorm(HookedTransformer model) {
        return foldLayerNorm(model, true);
    }

    /**
     * Folds every normalization's weight {@code w} (and, for LayerNorm, bias {@code b}) into the
     * weights that read its output, leaving a normalization without affine part
     * ({@link Normalization#LAYER_NORM_PRE} / {@link Normalization#RMS_NORM_PRE}). For a reader
     * W [d_model, n] with bias b_W: {@code b_W += b_ln @ W}, then {@code W = w_ln[:, None] * W}:
     * ln1 into W_Q/W_K/W_V, ln2 into W_in/W_gate, ln_final into W_U. Biases the config lacks are
     * created (and the config's bias flag turned on) when {@code b_ln} is non-zero. Tied embeddings
     * are untied: the new {@code unembed.W_U} is {@code w[:, None] * W_E^T}.
     * <p>
     * With {@code centerWeights} and LayerNorm, each folded W also has its mean over d_model (its
     * input dimension) subtracted: LayerNorm's output before the affine part has zero mean, so that
     * component of W never contributed. Logits are unchanged (up to rounding).
     * <p>
     * A no-op copy when the model has no normalization weights (none, or already folded).
     *
     * @throws LoupeException for a gated MLP behind a LayerNorm whose {@code ln2.b} is non-zero:
     *                        folding it would need a bias on {@code W_gate}, which this model format has not
     */
    public static HookedTransformer foldLayerNorm(HookedTransformer model, boolean centerWeights) {
        Work w = new Work(model);
        foldLayerNorm(w, centerWeights);
        return w.build();
    }

    /**
     * Subtracts the mean over d_model from every weight that writes to the residual stream: W_E,
     * W_pos, every W_O and W_out (per output row), and b_O, b_out. Every reader of the residual is a
     * LayerNorm, which removes the mean first, so logits are unchanged. Tied embeddings are untied
     * first (the unembedding keeps the uncentred {@code W_E^T}).
     *
     * @throws LoupeException when the model's normalization does not subtract the mean (RMSNorm, none)
     */
    public static HookedTransformer centerWritingWeights(HookedTransformer model) {
        Normalization n = model.config().normalization();
        if (!n.centers())
            throw new LoupeException("centerWritingWeights: the model's normalization is " + n + ", which does not "
                    + "subtract the mean of the residual stream, so removing the mean from the weights that write to "
                    + "it would change the model's output; it is only valid for LAYER_NORM or LAYER_NORM_PRE");
        Work w = new Work(model);
        centerWritingWeights(w);
        return w.build();
    }

    /**
     * Subtracts from each row of W_U (one per d_model direction) its mean over the vocabulary, and
     * from b_U its mean. This adds a per-position constant to the logits, which softmax (and every
     * probability, log-probability and loss) ignores. Tied embeddings are untied.
     *
     * @throws LoupeException when the model soft-caps its logits (Gemma 2): the cap is not invariant
     *                        to a constant added before it, so the output would change
     */
    public static HookedTransformer centerUnembed(HookedTransformer model) {
        if (model.config().outputLogitsSoftCap() > 0)
            throw new LoupeException("centerUnembed: the model soft-caps its logits (output_logits_soft_cap = "
                    + model.config().outputLogitsSoftCap() + "), and c * tanh(x / c) does not ignore a constant added "
                    + "to x, so centring the unembedding would change the model's output");
        Work w = new Work(model);
        centerUnembed(w);
        return w.build();
    }

    /**
     * Moves each layer's value bias into the output bias: {@code b_O += sum_h b_V[kv(h)] @ W_O[h]},
     * then {@code b_V = 0}, where query head h reads key/value head {@code h / (n_heads / n_kv_heads)}.
     * Exact because each attention pattern row sums to one. Creates b_O (turning the config's
     * attnOut bias flag on) when the model has none. A no-op copy for models without value biases.
     */
    public static HookedTransformer foldValueBiases(HookedTransformer model) {
        Work w = new Work(model);
        foldValueBiases(w);
        return w.build();
    }

    // ------------------------------------------------------------------ the steps, on a private copy

    /**
     * A private copy of a model's config and weights that the steps edit in place. Arrays in the map
     * are either duplicates of the input's or created here, so in-place ops never reach the input.
     */
    private static final class Work {
        ModelConfig cfg;
        final Map<String, INDArray> t = new LinkedHashMap<>();

        Work(HookedTransformer model) {
            cfg = model.config();
            model.weights().asMap().forEach((n, a) -> t.put(n, a.dup('c')));
        }

        INDArray get(String name) {
            INDArray a = t.get(name);
            if (a == null) throw new IllegalStateException("weight processing: missing " + name);
            return a;
        }

        INDArray find(String name) {
            return t.get(name);
        }

        /** Switches the config's bias flags on, creating zero biases wherever they become expected. */
        void biases(Biases b) {
            if (b.equals(cfg.biases())) return;
            cfg = cfg.toBuilder().biases(b).build();
            addMissingAsZeros();
        }

        void addMissingAsZeros() {
            Weights.expectedShapes(cfg).forEach((n, shape) -> {
                if (!t.containsKey(n)) t.put(n, Nd4j.zeros(Weights.dataType(cfg), shape));
            });
        }

        /** Tied embeddings become an explicit unembed.W_U = W_E^T (a copy). */
        void untie() {
            if (!cfg.tiedEmbeddings()) return;
            t.put("unembed.W_U", get("embed.W_E").transpose().dup('c'));
            cfg = cfg.toBuilder().tiedEmbeddings(false).build();
        }

        HookedTransformer build() {
            Map<String, long[]> expected = Weights.expectedShapes(cfg);
            Map<String, INDArray> ordered = new LinkedHashMap<>();
            for (String n : expected.keySet()) ordered.put(n, t.get(n)); // validate() names anything missing
            for (var e : t.entrySet()) if (!expected.containsKey(e.getKey())) ordered.put(e.getKey(), e.getValue());
            return new HookedTransformer(cfg, new Weights(ordered));
        }
    }

    private static void foldLayerNorm(Work w, boolean centerWeights) {
        ModelConfig c = w.cfg;
        Normalization n = c.normalization();
        if (!n.hasWeights()) return;
        if (c.useNormalizationAfterOnly())
            throw new LoupeException("foldLayerNorm: the blocks' ln1 and ln2 normalise the attention's and MLP's "
                    + "outputs (use_normalization_after_only, OLMo 2), which only the residual stream reads: there is "
                    + "no weight to fold them into");
        boolean ln = n == Normalization.LAYER_NORM;
        boolean center = centerWeights && ln;

        // Biases the fold needs and the config lacks: check everything before changing anything.
        boolean needQkv = false, needMlpIn = false;
        for (int l = 0; l < c.nLayers(); l++) {
            String b = "blocks." + l + ".";
            if (ln && nonZero(w.get(b + "ln1.b"))) needQkv = true;
            if (ln && !c.attnOnly() && nonZero(w.get(b + "ln2.b"))) {
                if (c.activation().gated())
                    throw new LoupeException("foldLayerNorm: blocks." + l + ".ln2.b is non-zero and the MLP is gated ("
                            + c.activation() + "): folding it would need a bias on mlp.W_gate, which this model format "
                            + "does not have. Fold with ln2.b = 0, or keep the LayerNorm unfolded");
                needMlpIn = true;
            }
        }
        boolean needUnembed = ln && nonZero(w.get("ln_final.b"));
        Biases bs = c.biases();
        w.biases(new Biases(
                bs.qkv() || needQkv, bs.attnOut(), bs.mlpIn() || needMlpIn, bs.mlpOut(), bs.unembed() || needUnembed));

        for (int l = 0; l < c.nLayers(); l++) {
            String b = "blocks." + l + ".";
            INDArray lnW = w.t.remove(b + "ln1.w"), lnB = ln ? w.t.remove(b + "ln1.b") : null;
            for (String p : new String[] {"Q", "K", "V"})
                fold(w, b + "attn.W_" + p, b + "attn.b_" + p, lnW, lnB, center);
            if (c.attnOnly()) continue;
            lnW = w.t.remove(b + "ln2.w");
            lnB = ln ? w.t.remove(b + "ln2.b") : null;
            fold(w, b + "mlp.W_in", b + "mlp.b_in", lnW, lnB, center);
            if (c.activation().gated()) fold(w, b + "mlp.W_gate", null, lnW, null, center); // ln2.b is zero (checked)
        }
        w.untie();
        INDArray lnW = w.t.remove("ln_final.w"), lnB = ln ? w.t.remove("ln_final.b") : null;
        fold(w, "unembed.W_U", "unembed.b_U", lnW, lnB, center);

        w.cfg = w.cfg.toBuilder()
                .normalization(ln ? Normalization.LAYER_NORM_PRE : Normalization.RMS_NORM_PRE)
                .build();
    }

    /** Folds a normalization's (w, b) into a reader W [d_model, n] and its bias [n] (when it has one). */
    private static void fold(Work w, String weight, String bias, INDArray lnW, INDArray lnB, boolean center) {
        INDArray W = w.get(weight);
        long d = W.size(0);
        INDArray bW = bias == null ? null : w.find(bias);
        if (lnB != null && bW != null) bW.addi(lnB.reshape(1, d).mmul(W).reshape(bW.shape())); // b += b_ln @ W
        W.muliColumnVector(lnW.reshape(d, 1)); // W = w[:, None] * W
        if (center) W.subiRowVector(W.mean(0)); // mean over d_model
    }

    private static void centerWritingWeights(Work w) {
        ModelConfig c = w.cfg;
        w.untie(); // the unembedding reads through ln_final's affine part, which need not be centred yet
        centerRows(w.get("embed.W_E"));
        if (c.positional() == Positional.LEARNED) centerRows(w.get("pos_embed.W_pos"));
        for (int l = 0; l < c.nLayers(); l++) {
            String b = "blocks." + l + ".";
            centerRows(w.get(b + "attn.W_O"));
            centerVector(w.find(b + "attn.b_O"));
            if (c.attnOnly()) continue;
            centerRows(w.get(b + "mlp.W_out"));
            centerVector(w.find(b + "mlp.b_out"));
        }
    }

    private static void centerUnembed(Work w) {
        w.untie();
        centerRows(w.get("unembed.W_U")); // [d_model, d_vocab]: mean over the vocabulary
        centerVector(w.find("unembed.b_U"));
    }

    private static void foldValueBiases(Work w) {
        ModelConfig c = w.cfg;
        if (!c.biases().qkv()) return;
        int H = c.nHeads(), K = c.nKvHeads(), dh = c.dHead();
        Biases bs = c.biases();
        w.biases(new Biases(bs.qkv(), true, bs.mlpIn(), bs.mlpOut(), bs.unembed()));
        for (int l = 0; l < c.nLayers(); l++) {
            String a = "blocks." + l + ".attn.";
            INDArray bV = w.get(a + "b_V");
            // [K * d_head] -> [H * d_head]: query head h reads kv head h / groups (repeat_interleave).
            INDArray perQueryHead = bV.reshape(K, dh).repeat(0, c.nKvGroups()).reshape(1, (long) H * dh);
            INDArray bO = w.get(a + "b_O");
            bO.addi(perQueryHead.mmul(w.get(a + "W_O")).reshape(bO.shape()));
            bV.assign(0);
        }
    }

    // ------------------------------------------------------------------ small helpers

    /** Subtracts from each row of a matrix its mean (over the last dimension), in place. */
    private static void centerRows(INDArray m) {
        m.subiColumnVector(m.mean(1).reshape(m.size(0), 1));
    }

    private static void centerVector(INDArray v) {
        if (v != null) v.subi(v.meanNumber());
    }

    private static boolean nonZero(INDArray a) {
        return a.amaxNumber().doubleValue() != 0;
    }
}
