package dev.loupe.engine.model;

import static dev.loupe.engine.autograd.TransformerKernels.affineLast;
import static dev.loupe.engine.autograd.TransformerKernels.attend;
import static dev.loupe.engine.autograd.TransformerKernels.attentionScores;
import static dev.loupe.engine.autograd.TransformerKernels.causalAttention;
import static dev.loupe.engine.autograd.TransformerKernels.centerLast;
import static dev.loupe.engine.autograd.TransformerKernels.layerNorm;
import static dev.loupe.engine.autograd.TransformerKernels.normalizeLast;
import static dev.loupe.engine.autograd.TransformerKernels.rmsLast;
import static dev.loupe.engine.hooks.HookSite.*;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.autograd.NativeKernels;
import dev.loupe.engine.autograd.Tensor;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.hooks.HookPoint;
import dev.loupe.engine.hooks.HookSite;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * One pass through the Transformer, written top to bottom like the math. Shapes in comments use
 * B = batch, T = new positions, S = all key positions (T plus any cached ones), H = heads,
 * K = key/value heads, D = d_model, d = d_head.
 */
final class ForwardPass {
    private final ModelConfig cfg;
    private final Weights weights;
    private final List<Hook> hooks;
    private final HookDispatch dispatch;
    private final ForwardRequest req;
    private final Graph graph;
    private final ActivationCache cache = new ActivationCache();
    private final Map<String, Tensor> params = new HashMap<>();
    private final Map<String, Tensor> hooked = new LinkedHashMap<>(); // every hook point's tensor, when differentiating
    private final Map<String, INDArray> gradients = new LinkedHashMap<>();
    private final Tokens tokens;
    private final int B, T;
    private INDArray mask; // [B, 1, T, S] additive: 0 where attention is allowed, -inf elsewhere
    private INDArray localMask; // the same for local (sliding window) layers; null when there are none
    private INDArray cos, sin; // [B, T, 1, rotary_dim]
    private INDArray cosLocal, sinLocal; // the same for local layers with their own base; null when none

    ForwardPass(ModelConfig cfg, Weights weights, List<Hook> hooks, ForwardRequest req) {
        this.cfg = cfg;
        this.weights = weights;
        this.hooks = hooks;
        this.req = req;
        this.graph = req.objective() != null ? Graph.recording() : Graph.inference();
        this.dispatch = new HookDispatch(hooks, graph);
        this.tokens = req.tokens();
        if (req.startResidual() != null) {
            INDArray r = req.startResidual();
            if (r == null || r.rank() != 3 || r.size(2) != cfg.dModel())
                throw new LoupeException("startAtLayer(" + req.startAtLayer() + "): residual must be [batch, pos, "
                        + cfg.dModel() + "], got " + (r == null ? "null" : Arrays.toString(r.shape())));
            B = (int) r.size(0);
            T = (int) r.size(1);
        } else {
            if (tokens == null) throw new LoupeException("forward: tokens are required");
            B = tokens.batch();
            T = tokens.length();
        }
    }

    ForwardResult run() {
        try (graph) {
            validate();
            buildMaskAndPositions();
            int start = req.startAtLayer();
            int stop = req.stopAtLayer() < 0 ? cfg.nLayers() : req.stopAtLayer();
            Tensor resid = req.startResidual() != null
                    ? graph.constant(req.startResidual().castTo(dtype()))
                    : embed(); // [B, T, D]
            for (int l = start; l < stop; l++) {
                resid = block(l, resid);
                graph.releaseScratch(resid);
            }
            Tensor logits = null, residual = null;
            if (stop < cfg.nLayers()) residual = resid;
            else {
                if (req.lastPositionLogits()) resid = resid.slice(1, T - 1, T); // [B, 1, D]: only what is read
                logits = unembed(normalize(LN_FINAL, -1, resid));
            }
            if (req.kvCache() != null) req.kvCache().advance(tokens);
            double objective = Double.NaN;
            Map<String, INDArray> weightGrads = Map.of();
            if (req.objective() != null) {
                Tensor value = req.objective().apply(outputs(logits, residual));
                graph.backward(value);
                objective = value.item();
                weightGrads = weightGradients();
                gradients.forEach((n, g) -> cache.put(n + "_grad", g));
            }
            INDArray out = logits != null ? logits.data() : residual.data();
            graph.keep(out);
            // Memory nobody else holds (no hook was handed it) is freed by whoever returns it, when closed.
            cache.adopt(cache.names().stream()
                    .map(n -> graph.release(cache.get(n)))
                    .filter(java.util.Objects::nonNull)
                    .toList());
            return new ForwardResult(
                    logits == null ? null : logits.data(),
                    residual == null ? null : residual.data(),
                    cache,
                    objective,
                    weightGrads,
                    graph.release(out));
        }
    }

    // ------------------------------------------------------------------ the model

    /** Token embedding (times embedScale, as Gemma scales it: hook_embed holds the scaled value) plus positions. */
    private Tensor embed() {
        Tensor rows = param("embed.W_E").gatherRows(lookupIds()).reshape(B, T, cfg.dModel());
        Tensor embed = hook(EMBED, -1, cfg.embedScale() == 1 ? rows : rows.mul(cfg.embedScale()));
        if (cfg.positional() != Positional.LEARNED) return embed;
        Tensor pos = hook(
                POS_EMBED, -1, param("pos_embed.W_pos").gatherRows(positions()).reshape(B, T, cfg.dModel()));
        return embed.add(pos);
    }

    /**
     * Token ids to embed. validate() accepts any id at a padding position (pad ids such as -1 are
     * common), so such ids embed row 0 instead: the row is masked out and its outputs unused.
     */
    private long[] lookupIds() {
        long[] ids = tokens.flat();
        for (int i = 0; i < ids.length; i++) if (ids[i] < 0 || ids[i] >= cfg.dVocab()) ids[i] = 0;
        return ids;
    }

    /**
     * One block. With norms before and after (Gemma 2) each sublayer's output is normalized again
     * (ln1_post, ln2_post) before hook_attn_out / hook_mlp_out, so those hooks still hold exactly
     * what is added to the residual stream. With norms after only (OLMo 2), ln1 and ln2 normalize
     * the sublayers' outputs, and, as TransformerLens hooks them, hook_attn_out / hook_mlp_out come
     * before those norms.
     */
    private Tensor block(int l, Tensor resid) {
        Tensor residPre = hook(RESID_PRE, l, resid);
        if (cfg.useNormalizationAfterOnly()) {
            Tensor attnOut = normalize(LN1, l, hook(ATTN_OUT, l, attention(l, residPre)));
            if (cfg.attnOnly()) return hook(RESID_POST, l, residPre.add(attnOut));
            Tensor residMid = hook(RESID_MID, l, residPre.add(attnOut));
            Tensor mlpOut = normalize(LN2, l, hook(MLP_OUT, l, mlp(l, residMid)));
            return hook(RESID_POST, l, residMid.add(mlpOut));
        }
        Tensor attnOut = hook(ATTN_OUT, l, normalizeOutput(LN1_POST, l, attention(l, normalize(LN1, l, residPre))));
        if (cfg.attnOnly()) return hook(RESID_POST, l, residPre.add(attnOut));
        if (cfg.parallelAttnMlp()) {
            Tensor mlpOut = hook(MLP_OUT, l, normalizeOutput(LN2_POST, l, mlp(l, normalize(LN2, l, residPre))));
            return hook(RESID_POST, l, residPre.add(attnOut).add(mlpOut));
        }
        Tensor residMid = hook(RESID_MID, l, residPre.add(attnOut));
        Tensor mlpOut = hook(MLP_OUT, l, normalizeOutput(LN2_POST, l, mlp(l, normalize(LN2, l, residMid))));
        return hook(RESID_POST, l, residMid.add(mlpOut));
    }

    /** A norm: its two hook points (the module they name holds its weights, {@code .w} and {@code .b}). */
    private record Norm(HookSite scale, HookSite normalized) {}

    private static final Norm LN1 = new Norm(LN1_SCALE, LN1_NORMALIZED),
            LN1_POST = new Norm(LN1_POST_SCALE, LN1_POST_NORMALIZED),
            LN2 = new Norm(LN2_SCALE, LN2_NORMALIZED),
            LN2_POST = new Norm(LN2_POST_SCALE, LN2_POST_NORMALIZED),
            LN_FINAL = new Norm(LN_FINAL_SCALE, LN_FINAL_NORMALIZED),
            Q_NORM = new Norm(Q_NORM_SCALE, Q_NORM_NORMALIZED),
            K_NORM = new Norm(K_NORM_SCALE, K_NORM_NORMALIZED),
            Q_NORM_ALL_HEADS = new Norm(Q_NORM_ALL_HEADS_SCALE, Q_NORM_ALL_HEADS_NORMALIZED),
            K_NORM_ALL_HEADS = new Norm(K_NORM_ALL_HEADS_SCALE, K_NORM_ALL_HEADS_NORMALIZED);

    /** A sublayer's output through its post-norm (RMSNorm with weight), when the model has them. */
    private Tensor normalizeOutput(Norm norm, int l, Tensor x) {
        return cfg.useNormalizationBeforeAndAfter() ? normalize(norm, l, x, Normalization.RMS_NORM) : x;
    }

    private Tensor normalize(Norm norm, int l, Tensor x) {
        return normalize(norm, l, x, cfg.normalization());
    }

    /**
     * LayerNorm / RMSNorm with TransformerLens's hooks: hook_scale [B, T, 1], then hook_normalized,
     * x / scale [B, T, D] before the affine part (TransformerLens's components/layer_norm.py and
     * rms_norm.py hook it there), then * w + b.
     */
    private Tensor normalize(Norm norm, int l, Tensor x, Normalization n) {
        if (n == Normalization.NONE) return x;
        if (n == Normalization.LAYER_NORM && fused(l, norm.scale(), norm.normalized())) { // one kernel
            String module = norm.scale().module(l);
            return layerNorm(x, param(module + ".w"), optional(module + ".b"), cfg.normEps());
        }
        if (n.centers()) x = centerLast(x); // x - mean(x)
        Tensor scale = hook(norm.scale(), l, rmsLast(x, cfg.normEps())); // sqrt(mean(x^2) + eps)
        Tensor normalized = hook(norm.normalized(), l, normalizeLast(x, scale)); // x / scale
        if (!n.hasWeights()) return normalized; // folded into the weights that read it
        String module = norm.scale().module(l);
        return affineLast(normalized, param(module + ".w"), optional(module + ".b")); // * w + b
    }

    private Tensor attention(int l, Tensor x) {
        String a = "blocks." + l + ".attn.";
        int H = cfg.nHeads(), K = cfg.nKvHeads(), d = cfg.dHead();
        Tensor q = hook(
                HookSite.Q, l, x.linear(param(a + "W_Q"), optional(a + "b_Q")).reshape(B, T, H, d));
        Tensor k = hook(
                HookSite.K, l, x.linear(param(a + "W_K"), optional(a + "b_K")).reshape(B, T, K, d));
        Tensor v = hook(
                HookSite.V, l, x.linear(param(a + "W_V"), optional(a + "b_V")).reshape(B, T, K, d));
        switch (cfg.qkNorm()) { // RMSNorms with weight; TransformerLens's shapes at their hooks
            case NONE -> {}
            case PER_HEAD -> { // each head's vector: [B*T*heads, d]
                q = normalize(Q_NORM, l, q.reshape((long) B * T * H, d), Normalization.RMS_NORM)
                        .reshape(B, T, H, d);
                k = normalize(K_NORM, l, k.reshape((long) B * T * K, d), Normalization.RMS_NORM)
                        .reshape(B, T, K, d);
            }
            case ALL_HEADS -> { // all heads at once: [B, T, heads * d]
                q = normalize(Q_NORM_ALL_HEADS, l, q.reshape(B, T, H * d), Normalization.RMS_NORM)
                        .reshape(B, T, H, d);
                k = normalize(K_NORM_ALL_HEADS, l, k.reshape(B, T, K * d), Normalization.RMS_NORM)
                        .reshape(B, T, K, d);
            }
        }
        if (cfg.positional() == Positional.ROTARY) {
            boolean local = cfg.isLocalAttn(l) && cosLocal != null;
            q = hook(ROT_Q, l, rotary(q, local));
            k = hook(ROT_K, l, rotary(k, local));
        }
        if (req.kvCache() != null) { // attend over the cached positions too
            KvCache.KeysAndValues all = req.kvCache().extend(l, k.data(), v.data());
            k = graph.constant(all.keys()); // [B, S, K, d]
            v = graph.constant(all.values());
        }
        Tensor z;
        if (fusedAttention(l)) { // scores, mask, softmax and values in one kernel
            z = hook(Z, l, causalAttention(q, k, v, 1 / cfg.attnScale())); // [B, T, H, d]
        } else {
            Tensor kAll = k.repeatInterleave(2, cfg.nKvGroups()); // [B, S, H, d]: each key/value head
            Tensor vAll = v.repeatInterleave(2, cfg.nKvGroups()); // serves its group of query heads
            Tensor scores =
                    hook(ATTN_SCORES, l, scores(q, kAll, cfg.isLocalAttn(l) ? localMask : mask)); // [B, H, T, S]
            Tensor pattern = hook(PATTERN, l, scores.softmaxLast());
            z = hook(Z, l, attend(pattern, vAll)); // [B, T, H, d]
        }
        if (cfg.useAttnResult()) {
            // Each head's write into the residual stream: z_h W_O[h].
            Tensor wO = param(a + "W_O").reshape(H, d, cfg.dModel()); // [H, d, D]
            Tensor perHead = z.reshape(B * T, H, d).permute(1, 0, 2).bmm(wO, false, 1); // [H, B*T, D]
            Tensor res = hook(RESULT, l, perHead.permute(1, 0, 2).reshape(B, T, H, cfg.dModel()));
            Tensor out = res.sum(2);
            Tensor bO = optional(a + "b_O");
            return bO == null ? out : out.add(bO);
        }
        return z.reshape(B, T, H * d).linear(param(a + "W_O"), optional(a + "b_O"));
    }

    /**
     * Whether layer l's attention runs as the fused causal kernel: the request allows fused kernels,
     * they loaded, the attention is plainly causal over these tokens alone (no cached positions,
     * padding, sliding window or score cap), and nothing hooks or caches the scores or the pattern.
     */
    private boolean fusedAttention(int l) {
        if (req.kvCache() != null || (tokens != null && tokens.padded())) return false;
        if (cfg.attnScoresSoftCap() != 0 || cfg.isLocalAttn(l)) return false;
        return fused(l, ATTN_SCORES, PATTERN);
    }

    /** Whether a fused kernel may skip these hook points of layer l: allowed, loaded, and nobody hooks or caches them. */
    private boolean fused(int l, HookSite... skipped) {
        if (!req.fused() || !NativeKernels.available() || dtype() != DataType.FLOAT) return false;
        for (HookSite site : skipped) {
            String name = site.name(l);
            if (req.cache().test(name) || hooks.stream().anyMatch(h -> h.appliesTo(name))) return false;
        }
        return true;
    }

    /** q.k / attnScale, soft-capped when the model caps scores (Gemma 2), then masked: [B, H, T, S]. */
    private Tensor scores(Tensor q, Tensor k, INDArray mask) {
        double cap = cfg.attnScoresSoftCap();
        if (cap == 0) return attentionScores(q, k, 1 / cfg.attnScale(), mask);
        return attentionScores(q, k, 1 / cfg.attnScale(), null).softcap(cap).add(graph.constant(mask));
    }

    /**
     * Rotate-half rotary embedding (GPT-NeoX / Hugging Face layout) on the first rotary_dim dims, with
     * the local layers' own base when it differs (Gemma 3).
     */
    private Tensor rotary(Tensor x, boolean local) { // [B, T, heads, d]
        int r = cfg.rotaryDim(), d = cfg.dHead();
        Tensor rot = r == d ? x : x.sliceLast(0, r);
        Tensor half1 = rot.sliceLast(0, r / 2), half2 = rot.sliceLast(r / 2, r);
        Tensor rotated = Tensor.concatLast(half2.mul(-1), half1);
        Tensor out = rot.mul(graph.constant(local ? cosLocal : cos))
                .add(rotated.mul(graph.constant(local ? sinLocal : sin)));
        return r == d ? out : Tensor.concatLast(out, x.sliceLast(r, d));
    }

    private Tensor mlp(int l, Tensor x) {
        String m = "blocks." + l + ".mlp.";
        if (cfg.activation().gated()) {
            // As TransformerLens's GatedMLP: b_in is added after the product, not inside pre_linear.
            Tensor pre = hook(MLP_PRE, l, x.linear(param(m + "W_gate"), null));
            Tensor preLinear = hook(MLP_PRE_LINEAR, l, x.linear(param(m + "W_in"), null));
            Tensor gated = activate(pre).mul(preLinear);
            Tensor bIn = optional(m + "b_in");
            Tensor post = hook(MLP_POST, l, bIn == null ? gated : gated.add(bIn));
            return post.linear(param(m + "W_out"), optional(m + "b_out"));
        }
        Tensor pre = hook(MLP_PRE, l, x.linear(param(m + "W_in"), optional(m + "b_in")));
        Tensor post = hook(MLP_POST, l, activate(pre));
        return post.linear(param(m + "W_out"), optional(m + "b_out"));
    }

    private Tensor activate(Tensor x) {
        return switch (cfg.activation()) {
            case GELU_NEW, GELU_GATED -> x.geluNew();
            case GELU -> x.gelu();
            case RELU -> x.relu();
            case SILU_GATED -> x.silu();
        };
    }

    private Tensor unembed(Tensor x) {
        Tensor in = hook(UNEMBED_IN, -1, x);
        Tensor wU = cfg.tiedEmbeddings() ? param("embed.W_E").transpose() : param("unembed.W_U");
        Tensor logits = hook(UNEMBED_OUT, -1, in.linear(wU, optional("unembed.b_U")));
        // Gemma 2 soft-caps the logits after the unembedding, so (as in TransformerLens) hook_out holds them uncapped.
        double cap = cfg.outputLogitsSoftCap();
        return cap == 0 ? logits : logits.softcap(cap);
    }

    // ------------------------------------------------------------------ inputs

    private void validate() {
        int past = req.kvCache() == null ? 0 : req.kvCache().length();
        if (past + T > cfg.nCtx())
            throw new LoupeException("sequence of " + (past + T) + " positions"
                    + (past > 0 ? " (" + past + " cached)" : "") + " is longer than n_ctx = " + cfg.nCtx());
        if (tokens != null) {
            if (tokens.batch() != B || tokens.length() != T)
                throw new LoupeException("tokens are [" + tokens.batch() + ", " + tokens.length()
                        + "] but the residual is [" + B + ", " + T + "]");
            for (int b = 0; b < B; b++)
                for (int p = 0; p < T; p++) {
                    int id = tokens.ids()[b][p];
                    if ((id < 0 || id >= cfg.dVocab()) && tokens.isToken(b, p))
                        throw new LoupeException("token id " + id + " at [" + b + ", " + p + "] is out of range 0.."
                                + (cfg.dVocab() - 1));
                }
        }
        if (req.stopAtLayer() > cfg.nLayers()
                || req.startAtLayer() < 0
                || req.startAtLayer() > cfg.nLayers()
                || (req.stopAtLayer() >= 0 && req.stopAtLayer() < req.startAtLayer()))
            throw new LoupeException("layer range: startAtLayer=" + req.startAtLayer() + ", stopAtLayer="
                    + req.stopAtLayer() + " for a model of " + cfg.nLayers() + " layers");
        // Named hooks and cached names must exist. Predicate hooks are not checked, so the dry run
        // that lists the hook points (which uses one) never needs the list itself.
        if (req.cache() instanceof dev.loupe.engine.hooks.ActivationFilter.Names wanted)
            for (String n : wanted.names()) checkHookName(n);
        for (Hook h : hooks) if (h.exactName()) checkHookName(h.description());
        if (req.objective() != null && req.kvCache() != null)
            throw new LoupeException("gradients through a KV-cached pass are not supported; run the full sequence");
        if (req.kvCache() != null)
            req.kvCache()
                    .checkPass(
                            cfg.nLayers(),
                            req.startAtLayer(),
                            req.stopAtLayer() < 0 ? cfg.nLayers() : req.stopAtLayer(),
                            B);
    }

    /** Position of each new token: its index among the real tokens of its sequence. */
    private long[] positions() {
        long[] pos = new long[B * T];
        KvCache kv = req.kvCache();
        for (int b = 0; b < B; b++) {
            int p0 = kv == null ? 0 : kv.nextPosition(b), seen = 0;
            for (int p = 0; p < T; p++) {
                pos[b * T + p] = p0 + seen;
                if (tokens == null || tokens.isToken(b, p)) seen++;
            }
        }
        return pos;
    }

    private void buildMaskAndPositions() {
        mask = attentionMask(Integer.MAX_VALUE);
        if (cfg.windowSize() > 0) localMask = attentionMask(cfg.windowSize());
        if (cfg.positional() == Positional.ROTARY) rotaryTables();
    }

    /**
     * The additive attention mask [B, 1, T, S]: a query sees itself and the real tokens among the
     * {@code window - 1} positions before it. A padding query sees only itself, so its row stays
     * finite (its output is never used).
     */
    private INDArray attentionMask(int window) {
        KvCache kv = req.kvCache();
        int past = kv == null ? 0 : kv.length(), S = past + T;
        INDArray causal = Nd4j.createFromArray(band(T, S, past, window)); // [T, S]
        INDArray allowed;
        if (tokens != null && (tokens.padded() || (kv != null && kv.pastMask() != null))) {
            float[][] keyOk = new float[B][S];
            for (int b = 0; b < B; b++) {
                for (int s = 0; s < past; s++) keyOk[b][s] = kv.pastMask()[b][s];
                for (int t = 0; t < T; t++) keyOk[b][past + t] = tokens.isToken(b, t) ? 1 : 0;
            }
            INDArray keys = Nd4j.createFromArray(keyOk).reshape(B, 1, 1, S);
            INDArray self = Nd4j.createFromArray(band(T, S, past, 1));
            allowed = Transforms.max(keys.mul(causal.reshape(1, 1, T, S)), self.reshape(1, 1, T, S), false);
        } else {
            allowed = causal.reshape(1, 1, T, S);
        }
        return Transforms.log(allowed, false).castTo(dtype()); // log 1 = 0, log 0 = -inf
    }

    /** [T, S] with 1 where t + offset - window < s <= t + offset (query t sits at key position t + offset). */
    private static float[][] band(int T, int S, int offset, int window) {
        float[][] m = new float[T][S];
        for (int t = 0; t < T; t++)
            for (int s = Math.max(0, t + offset - window + 1); s <= Math.min(S - 1, t + offset); s++) m[t][s] = 1;
        return m;
    }

    private void rotaryTables() {
        INDArray pos = Nd4j.createFromArray(positions()).castTo(DataType.DOUBLE).reshape(B * T, 1);
        INDArray[] global = rotaryTables(pos, rotaryFrequencies(cfg));
        cos = global[0];
        sin = global[1];
        if (!cfg.localAttnLayers().isEmpty() && cfg.rotaryBaseLocal() != cfg.rotaryBase()) {
            INDArray[] local = rotaryTables(pos, rotaryFrequencies(cfg.rotaryDim(), cfg.rotaryBaseLocal(), null));
            cosLocal = local[0];
            sinLocal = local[1];
        }
    }

    /** cos and sin [B, T, 1, r] of position times each frequency, for positions [B*T, 1]. */
    private INDArray[] rotaryTables(INDArray pos, double[] frequencies) {
        int r = cfg.rotaryDim();
        INDArray invFreq = Nd4j.createFromArray(frequencies).reshape(1, r / 2);
        INDArray angles = pos.mmul(invFreq); // [B*T, r/2]
        INDArray full = Nd4j.concat(1, angles, angles); // [B*T, r]
        return new INDArray[] {
            Transforms.cos(full, true).castTo(dtype()).reshape(B, T, 1, r),
            Transforms.sin(full, true).castTo(dtype()).reshape(B, T, 1, r)
        };
    }

    /**
     * The r/2 rotary inverse frequencies, base^(-2i/r), rescaled as Llama 3 does when the config has
     * {@link ModelConfig.RopeScaling} (Hugging Face's {@code _compute_llama3_parameters}).
     */
    static double[] rotaryFrequencies(ModelConfig cfg) {
        return rotaryFrequencies(cfg.rotaryDim(), cfg.rotaryBase(), cfg.ropeScaling());
    }

    private static double[] rotaryFrequencies(int r, double base, ModelConfig.RopeScaling s) {
        double[] f = new double[r / 2];
        for (int i = 0; i < f.length; i++) f[i] = Math.exp(-2.0 * i / r * Math.log(base));
        if (s == null) return f;
        double lowFreqWavelength = s.originalContextLength() / s.lowFreqFactor();
        double highFreqWavelength = s.originalContextLength() / s.highFreqFactor();
        for (int i = 0; i < f.length; i++) {
            double wavelength = 2 * Math.PI / f[i];
            if (wavelength > lowFreqWavelength) f[i] /= s.factor(); // long waves: interpolate positions
            else if (wavelength >= highFreqWavelength) { // between: blend the two
                double smooth = (s.originalContextLength() / wavelength - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                f[i] = (1 - smooth) * f[i] / s.factor() + smooth * f[i];
            } // short waves stay
        }
        return f;
    }

    // ------------------------------------------------------------------ hooks

    /** Hook point lists by config, most recently used last (a few configs are live at a time). */
    private static final Map<ModelConfig, HookNameList> HOOK_NAMES =
            java.util.Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<ModelConfig, HookNameList> eldest) {
                    return size() > 64;
                }
            });

    private record HookNameList(List<String> names, java.util.Set<String> set) {}

    /**
     * Every hook point a model with this config has, in the order its forward pass meets them: found
     * by running this forward pass once, with a hook on every point, on one token through a model of
     * the same architecture with the smallest widths (so nothing lists the hook points by hand).
     */
    static List<String> hookNames(ModelConfig cfg) {
        return hookNameList(cfg).names();
    }

    private static HookNameList hookNameList(ModelConfig cfg) {
        HookNameList known = HOOK_NAMES.get(cfg);
        if (known != null) return known;
        ModelConfig tiny = smallestOfItsArchitecture(cfg);
        List<String> met = new java.util.ArrayList<>();
        Hook everyPoint = Hook.forward(name -> true, (a, point) -> {
            met.add(point.name());
            return null;
        });
        ForwardRequest dryRun = ForwardRequest.of(Tokens.of(new int[] {0})).build();
        new ForwardPass(tiny, Weights.random(tiny, 0, false), List.of(everyPoint), dryRun)
                .run()
                .close();
        HookNameList list = new HookNameList(List.copyOf(met), java.util.Set.copyOf(met));
        HOOK_NAMES.put(cfg, list);
        return list;
    }

    /** The config with every width at its smallest; everything that decides which hooks exist kept. */
    private static ModelConfig smallestOfItsArchitecture(ModelConfig cfg) {
        boolean partialRotary = cfg.positional() == Positional.ROTARY && cfg.rotaryDim() < cfg.dHead();
        return cfg.toBuilder()
                .dModel(2)
                .dHead(partialRotary ? 4 : 2)
                .rotaryDim(2)
                .dMlp(1)
                .dVocab(1)
                .nCtx(1)
                .build();
    }

    private void checkHookName(String name) {
        HookNameList known = hookNameList(cfg);
        if (!known.set().contains(name)) throw HookNames.unknownHook(name, known.names());
    }

    /**
     * The activation at hook point {@code site} of block {@code layer} (-1 outside the blocks): the
     * user's forward hooks may replace it; in a differentiated pass the objective may read it, its
     * gradient is recorded when it is cached, and backward hooks act on that gradient; it is cached
     * when the filter asks (who frees its memory is settled when the pass ends).
     */
    private Tensor hook(HookSite site, int layer, Tensor x) {
        String name = site.name(layer);
        HookPoint point = new HookPoint(name, layer);
        x = dispatch.forward(point, x);
        boolean cached = req.cache().test(name);
        if (graph.isRecording()) {
            x = dispatch.backward(point, x, cached ? g -> gradients.put(name, g) : null);
            hooked.put(name, x);
        }
        if (cached) {
            cache.put(name, x.data());
            graph.keep(x.data());
        }
        return x;
    }

    // ------------------------------------------------------------------ parameters and gradients

    private Tensor param(String name) {
        return params.computeIfAbsent(name, n -> graph.leaf(weights.get(n)));
    }

    private Tensor optional(String name) {
        return weights.find(name) == null ? null : param(name);
    }

    private DataType dtype() {
        return Weights.dataType(cfg);
    }

    private Map<String, INDArray> weightGradients() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String name : weights.names()) {
            Tensor p = params.get(name);
            INDArray g = p == null || p.grad() == null
                    ? Nd4j.zeros(weights.get(name).dataType(), weights.get(name).shape())
                    : p.grad();
            out.put(name, Weights.toTransformerLensLayout(name, g, cfg));
        }
        return out;
    }

    private Objective.ForwardOutputs outputs(Tensor logits, Tensor residual) {
        return new Objective.ForwardOutputs() {
            public Tensor logits() {
                return logits;
            }

            public Tensor residual() {
                return residual;
            }

            public Tensor activation(String name) {
                Tensor t = hooked.get(name);
                if (t == null) t = hooked.get(HookNames.actName(name, -1));
                if (t == null) throw HookNames.unknown("hook point in this run", name, hooked.keySet());
                return t;
            }
        };
    }
}
