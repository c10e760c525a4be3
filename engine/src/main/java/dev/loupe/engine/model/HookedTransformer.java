package dev.loupe.engine.model;

import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.hooks.HookSite;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A Transformer whose every activation has a TransformerLens name and can be cached, replaced or
 * differentiated. The verbs mirror TransformerLens's {@code HookedTransformer}:
 * <pre>{@code
 * INDArray logits = model.run(tokens);
 * ForwardResult r = model.runWithCache(tokens, ActivationFilter.all());   // r.logits(), r.cache()
 * INDArray patched = model.runWithHooks(tokens, Hook.forward("blocks.0.attn.hook_z", (z, h) -> ...));
 * }</pre>
 * Permanent hooks ({@link #addHook}) apply to every pass until removed; {@link #withHooks} adds
 * them for a try-with-resources block.
 */
public final class HookedTransformer {
    private final ModelConfig config;
    private final Weights weights;
    private final List<Hook> permanentHooks = new ArrayList<>();

    public HookedTransformer(ModelConfig config, Weights weights) {
        weights.validate(config, "model weights");
        this.config = config;
        this.weights = weights;
    }

    /** Random weights, initialised as TransformerLens initialises GPT-2. */
    public static HookedTransformer random(ModelConfig config, long seed) {
        return new HookedTransformer(config, Weights.random(config, seed, false));
    }

    /**
     * This model with per-head outputs ({@code attn.hook_result}, [batch, pos, head, d_model]) on or
     * off, as TransformerLens's {@code set_use_attn_result}. Shares the weights (no copy); hooks are
     * not carried over.
     */
    public HookedTransformer useAttnResult(boolean on) {
        return new HookedTransformer(config.toBuilder().useAttnResult(on).build(), weights);
    }

    public ModelConfig config() {
        return config;
    }

    public Weights weights() {
        return weights;
    }

    /** Every weight under its TransformerLens name and shape (views; no copies). */
    public Map<String, INDArray> stateDict() {
        return weights.stateDict(config);
    }

    /** Every hook point of this model, in forward order. */
    public List<String> hookNames() {
        return ForwardPass.hookNames(config);
    }

    /**
     * Every hook point a model with this config has, in forward order (see {@link HookSite} for what
     * each holds). Found by running the forward pass itself on a tiny model of the same architecture.
     */
    public static List<String> hookNames(ModelConfig config) {
        return ForwardPass.hookNames(config);
    }

    // ------------------------------------------------------------------ verbs

    /** Logits [batch, pos, d_vocab]. */
    public INDArray run(Tokens tokens) {
        return forward(ForwardRequest.of(tokens).build()).logits();
    }

    public INDArray run(int[]... tokens) {
        return run(Tokens.of(tokens));
    }

    /** Logits and the activations the filter accepts. */
    public ForwardResult runWithCache(Tokens tokens, ActivationFilter filter) {
        return forward(ForwardRequest.of(tokens).cache(filter).build());
    }

    /**
     * Logits and activations, plus gradients of {@code objective}: for every weight
     * ({@link ForwardResult#weightGrads}) and, for every cached name, {@code <name>_grad} in the cache.
     */
    public ForwardResult runWithCache(Tokens tokens, ActivationFilter filter, Objective objective) {
        return forward(
                ForwardRequest.of(tokens).cache(filter).gradientsOf(objective).build());
    }

    /** Logits with hooks active for this pass only. */
    public INDArray runWithHooks(Tokens tokens, Hook... hooks) {
        return forward(ForwardRequest.of(tokens).hooks(hooks).build()).logits();
    }

    /** Mean next-token cross-entropy of the tokens under this model. */
    public double loss(Tokens tokens) {
        try (var g = dev.loupe.engine.autograd.Graph.inference()) {
            return Losses.nextToken(g.constant(run(tokens)), tokens).item();
        }
    }

    /** The general form every verb above uses. */
    public ForwardResult forward(ForwardRequest request) {
        List<Hook> all = new ArrayList<>(permanentHooks);
        all.addAll(request.hooks());
        return new ForwardPass(config, weights, all, request).run();
    }

    // ------------------------------------------------------------------ permanent hooks

    public void addHook(Hook hook) {
        if (hook.exactName() && !hookNames().contains(hook.description()))
            throw HookNames.unknownHook(hook.description(), hookNames());
        permanentHooks.add(hook);
    }

    public void removeHook(Hook hook) {
        permanentHooks.remove(hook);
    }

    public void resetHooks() {
        permanentHooks.clear();
    }

    public List<Hook> hooks() {
        return List.copyOf(permanentHooks);
    }

    /** Adds hooks that are removed when the returned scope closes, even if the block throws. */
    public HookScope withHooks(Hook... hooks) {
        List<Hook> added = new ArrayList<>();
        try {
            for (Hook h : hooks) {
                addHook(h);
                added.add(h);
            }
        } catch (RuntimeException e) {
            added.forEach(this::removeHook);
            throw e;
        }
        return () -> added.forEach(this::removeHook);
    }

    /** A block during which some hooks are active. */
    public interface HookScope extends AutoCloseable {
        @Override
        void close();
    }

    @Override
    public String toString() {
        return "HookedTransformer(" + config.nLayers() + " layers, d_model " + config.dModel() + ", "
                + config.parameterCount() + " parameters)";
    }
}
