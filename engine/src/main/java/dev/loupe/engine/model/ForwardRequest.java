package dev.loupe.engine.model;

import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Everything one forward pass can be asked to do. The verbs on {@link HookedTransformer}
 * ({@code run}, {@code runWithCache}, {@code runWithHooks}) are shorthands for common requests.
 *
 * @param tokens           the input; may be null when starting from a residual with no padding
 * @param cache            which activations to keep
 * @param hooks            hooks for this pass only (in addition to the model's permanent hooks)
 * @param stopAtLayer      return the residual stream before this block instead of logits; -1 = run to the end
 * @param startAtLayer     run from this block, with {@code startResidual} as its resid_pre
 * @param startResidual    [batch, pos, d_model], required when startAtLayer > 0
 * @param objective        when set, differentiate it: gradients for weights, and {@code <name>_grad} in the cache for cached names
 * @param kvCache          when set, tokens are new positions after those in the cache (which is extended)
 * @param lastPositionLogits only the last position goes through the final norm and the unembedding:
 *                         logits [batch, 1, d_vocab] (the last column: prompts unpadded or padded on the
 *                         left), for metrics that read nothing else — the unembedding of every position
 *                         is a large share of a short run
 * @param fused            causal self-attention and LayerNorm may run as fused native kernels ({@link
 *                         dev.loupe.engine.autograd.NativeKernels}) where nothing hooks or caches the
 *                         hook points inside them (hook_attn_scores and hook_pattern; a norm's hook_scale
 *                         and hook_normalized): those are then never computed, and an objective cannot
 *                         read them. Training sets it; analysis runs leave it off and compute every hook
 *                         point as TransformerLens does
 */
public record ForwardRequest(
        Tokens tokens,
        ActivationFilter cache,
        List<Hook> hooks,
        int stopAtLayer,
        int startAtLayer,
        INDArray startResidual,
        Objective objective,
        KvCache kvCache,
        boolean lastPositionLogits,
        boolean fused) {

    public static Builder of(Tokens tokens) {
        return new Builder().tokens(tokens);
    }

    public static final class Builder {
        private Tokens tokens;
        private ActivationFilter cache = ActivationFilter.none();
        private List<Hook> hooks = List.of();
        private int stopAtLayer = -1, startAtLayer = 0;
        private INDArray startResidual;
        private Objective objective;
        private KvCache kvCache;
        private boolean lastPositionLogits, fused;

        public Builder tokens(Tokens t) {
            tokens = t;
            return this;
        }

        public Builder cache(ActivationFilter f) {
            cache = f;
            return this;
        }

        public Builder hooks(List<Hook> h) {
            hooks = List.copyOf(h);
            return this;
        }

        public Builder hooks(Hook... h) {
            hooks = List.of(h);
            return this;
        }

        public Builder stopAtLayer(int l) {
            stopAtLayer = l;
            return this;
        }

        public Builder startAtLayer(int l, INDArray residual) {
            startAtLayer = l;
            startResidual = residual;
            return this;
        }

        public Builder gradientsOf(Objective o) {
            objective = o;
            return this;
        }

        public Builder kvCache(KvCache c) {
            kvCache = c;
            return this;
        }

        public Builder lastPositionLogits(boolean on) {
            lastPositionLogits = on;
            return this;
        }

        public Builder fused(boolean on) {
            fused = on;
            return this;
        }

        public ForwardRequest build() {
            return new ForwardRequest(
                    tokens,
                    cache,
                    hooks,
                    stopAtLayer,
                    startAtLayer,
                    startResidual,
                    objective,
                    kvCache,
                    lastPositionLogits,
                    fused);
        }
    }
}
