package dev.loupe.saes.splice;

import dev.loupe.engine.ClosestNames;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.ForwardHook;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookPoint;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.saes.Sae;
import dev.loupe.saes.SaePass;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A model with SAEs spliced in, as SAELens's {@code HookedSAETransformer}: each attached SAE replaces the
 * activation at its hook with its reconstruction ({@code use_error_term}: plus the error {@code x - x̂},
 * so the output is unchanged and only edits of the features show), and exposes its own hook points
 * ({@link SaeHookNames}: {@code <hook>.hook_sae_acts_post} are the features) to caching and hooks.
 * <pre>{@code
 * HookedSaeTransformer spliced = new HookedSaeTransformer(model).addSae(sae);
 * INDArray logits = spliced.run(tokens);                                   // with the reconstruction
 * ForwardResult r = spliced.runWithCache(tokens, ActivationFilter.none());
 * INDArray features = r.cache().get("blocks.0.hook_resid_post.hook_sae_acts_post");   // [batch, pos, d_sae]
 * spliced.addSaeHook("blocks.0.hook_resid_post.hook_sae_acts_post", FeatureEdits.ablate(42));
 * }</pre>
 * The splicing is done with the engine's forward hooks, so the wrapped model is not changed; the SAE
 * hooks ({@link #addSaeHook}) see [batch, pos, d] arrays like the model's hooks and may return a
 * replacement (or null). {@code hook_sae_acts_pre} can be read but not edited.
 */
public final class HookedSaeTransformer {
    private final HookedTransformer model;
    private final List<Attached> saes = new ArrayList<>();
    private final Map<String, List<ForwardHook>> saeHooks = new LinkedHashMap<>();

    /** An SAE attached at a hook. */
    public record Attached(Sae sae, String hook, boolean useErrorTerm) {}

    public HookedSaeTransformer(HookedTransformer model) {
        this.model = model;
    }

    public HookedTransformer model() {
        return model;
    }

    /** Attaches {@code sae} at its config's {@code hook_name}, without an error term. */
    public HookedSaeTransformer addSae(Sae sae) {
        return addSae(sae, false);
    }

    public HookedSaeTransformer addSae(Sae sae, boolean useErrorTerm) {
        String hook = sae.config().hookName();
        if (hook == null)
            throw new LoupeException("SAE (" + sae.config().describe() + ") has no hook_name in its config; use"
                    + " addSae(sae, hook, useErrorTerm)");
        return addSae(sae, hook, useErrorTerm);
    }

    /**
     * Attaches {@code sae} at {@code hook} (replacing an SAE already there). The hook must exist and its
     * activations must be [..., d_in] wide (checked with a one-token pass).
     */
    public HookedSaeTransformer addSae(Sae sae, String hook, boolean useErrorTerm) {
        checkHook(sae, hook);
        saes.removeIf(a -> a.hook().equals(hook));
        saes.add(new Attached(sae, hook, useErrorTerm));
        return this;
    }

    private void checkHook(Sae sae, String hook) {
        List<String> names = model.hookNames();
        if (!names.contains(hook))
            throw new LoupeException("no hook point '" + hook + "' in this model for the SAE ("
                    + sae.config().describe() + "); closest: " + ClosestNames.closest(hook, names, 3));
        long[] shape;
        try (ForwardResult r = model.forward(ForwardRequest.of(Tokens.of(new int[] {0}))
                .cache(ActivationFilter.names(hook))
                .stopAtLayer(stopLayer(hook))
                .build())) {
            shape = r.cache().get(hook).shape();
        }
        long width = shape[shape.length - 1];
        boolean headsFlattened = shape.length >= 4
                && shape[shape.length - 1] * shape[shape.length - 2]
                        == sae.config().dIn();
        if (width != sae.config().dIn()
                && !(headsFlattened && sae.config().reshapeActivations().equals("hook_z")))
            throw new LoupeException(
                    "the SAE's d_in is " + sae.config().dIn() + " but hook '" + hook + "' has activations "
                            + Arrays.toString(shape) + " (width " + width + ")"
                            + (headsFlattened ? "; its heads flattened match: set reshape_activations to hook_z" : ""));
    }

    /** The block after the hook's, so that a probe pass runs no further than needed (-1: to the end). */
    private int stopLayer(String hook) {
        int layer = dev.loupe.engine.hooks.HookNames.layerOf(hook);
        return layer < 0 || layer + 1 >= model.config().nLayers() ? -1 : layer + 1;
    }

    public List<Attached> saes() {
        return List.copyOf(saes);
    }

    /** SAELens's {@code reset_saes}. */
    public void resetSaes() {
        saes.clear();
    }

    /**
     * A hook on an SAE's hook point ({@code <hook>.hook_sae_acts_post} etc.), applied to every run until
     * {@link #resetSaeHooks}; it sees [batch, pos, width] and may return a replacement (or null).
     */
    public HookedSaeTransformer addSaeHook(String name, ForwardHook fn) {
        checkSaeHookName(name);
        saeHooks.computeIfAbsent(name, k -> new ArrayList<>()).add(fn);
        return this;
    }

    public void resetSaeHooks() {
        saeHooks.clear();
    }

    private void checkSaeHookName(String name) {
        List<String> known = new ArrayList<>();
        for (Attached a : saes) for (String p : SaeHookNames.ALL) known.add(SaeHookNames.of(a.hook(), p));
        if (!known.contains(name))
            throw new LoupeException("no SAE hook point '" + name + "' (attached SAEs' points: "
                    + (known.isEmpty() ? "none: attach an SAE first" : ClosestNames.closest(name, known, 4)) + ")");
        if (name.endsWith("." + SaeHookNames.ACTS_PRE))
            throw new LoupeException(name + ": hook_sae_acts_pre can be cached but not edited here; edit "
                    + SaeHookNames.ACTS_POST + " (the features) instead");
    }

    // ------------------------------------------------------------------ runs

    /** Logits with every attached SAE spliced in. */
    public INDArray run(Tokens tokens) {
        return forward(ForwardRequest.of(tokens).build()).logits();
    }

    /** Logits and the model activations {@code filter} accepts, plus every SAE hook point of every attached SAE. */
    public ForwardResult runWithCache(Tokens tokens, ActivationFilter filter) {
        return forward(ForwardRequest.of(tokens).cache(filter).build(), true);
    }

    /** Logits with these model hooks too (run after the model's permanent hooks, before the splice at the same point). */
    public INDArray runWithHooks(Tokens tokens, Hook... hooks) {
        return forward(ForwardRequest.of(tokens).hooks(hooks).build()).logits();
    }

    /** SAELens's {@code run_with_saes}: logits with {@code extra} SAEs attached for this run only. */
    public INDArray runWithSaes(Tokens tokens, Sae... extra) {
        HookedSaeTransformer once = new HookedSaeTransformer(model);
        once.saes.addAll(saes);
        for (Sae s : extra) once.addSae(s);
        saeHooks.forEach((k, v) -> once.saeHooks.put(k, new ArrayList<>(v)));
        return once.run(tokens);
    }

    /** Any forward request, with the SAEs spliced in (after the request's own hooks). */
    public ForwardResult forward(ForwardRequest request) {
        return forward(request, false);
    }

    private ForwardResult forward(ForwardRequest request, boolean cacheSaes) {
        Map<String, INDArray> cached = cacheSaes ? new LinkedHashMap<>() : null;
        List<Hook> hooks = new ArrayList<>(request.hooks());
        for (Attached a : saes) hooks.add(spliceHook(a, saeHooks, cached));
        ForwardResult r = model.forward(new ForwardRequest(
                request.tokens(),
                request.cache(),
                hooks,
                request.stopAtLayer(),
                request.startAtLayer(),
                request.startResidual(),
                request.objective(),
                request.kvCache(),
                request.lastPositionLogits(),
                request.fused()));
        if (cached != null) cached.forEach(r.cache()::put);
        return r;
    }

    /** The model hooks that do the splicing (for {@code model.withHooks}, generation, ...): no SAE hooks, no caching. */
    public List<Hook> hooks() {
        List<Hook> out = new ArrayList<>();
        for (Attached a : saes) out.add(spliceHook(a, Map.of(), null));
        return out;
    }

    /**
     * A model hook that replaces the activation at the SAE's hook with its reconstruction: {@code
     * model.withHooks(HookedSaeTransformer.splice(sae, false))} splices an SAE into a plain model (and its
     * generations) for a block.
     */
    public static Hook splice(Sae sae, boolean useErrorTerm) {
        String hook = sae.config().hookName();
        if (hook == null)
            throw new LoupeException("SAE (" + sae.config().describe() + ") has no hook_name in its config");
        return spliceHook(new Attached(sae, hook, useErrorTerm), Map.of(), null);
    }

    private static Hook spliceHook(Attached a, Map<String, List<ForwardHook>> hooks, Map<String, INDArray> cache) {
        return Hook.forward(a.hook(), (act, point) -> {
            Sae sae = a.sae();
            long[] shape = act.shape();
            int dIn = sae.config().dIn(), dSae = sae.config().dSae();
            long rows = act.length() / dIn;
            if (act.length() % dIn != 0
                    || (shape[shape.length - 1] != dIn
                            && !sae.config().reshapeActivations().equals("hook_z")))
                throw new LoupeException(
                        "hook '" + a.hook() + "' gave the SAE (" + sae.config().describe() + ") activations "
                                + Arrays.toString(shape) + "; it takes [..., " + dIn + "]");
            long[] lead = leading(
                    shape,
                    sae.config().reshapeActivations().equals("hook_z") && shape[shape.length - 1] != dIn ? 2 : 1);
            INDArray x = act.castTo(DataType.FLOAT).reshape('c', rows, dIn);
            x = edit(hooks, cache, a.hook(), SaeHookNames.INPUT, x, lead, dIn);
            SaePass pass = sae.run(x);
            record(cache, a.hook(), SaeHookNames.ACTS_PRE, pass.actsPre(), lead, dSae);
            INDArray acts = edit(hooks, cache, a.hook(), SaeHookNames.ACTS_POST, pass.actsPost(), lead, dSae);
            INDArray out = acts == pass.actsPost() ? pass.output() : sae.decode(acts, pass);
            record(cache, a.hook(), SaeHookNames.RECONS, pass.recons(), lead, dIn);
            if (a.useErrorTerm()) {
                INDArray error = edit(hooks, cache, a.hook(), SaeHookNames.ERROR, x.sub(pass.output()), lead, dIn);
                out = out.add(error);
            }
            out = edit(hooks, cache, a.hook(), SaeHookNames.OUTPUT, out, lead, dIn);
            return out.reshape('c', shape).castTo(act.dataType());
        });
    }

    /** Runs the SAE hooks of one point on [lead..., width] and caches the result; returns rows [n, width]. */
    private static INDArray edit(
            Map<String, List<ForwardHook>> hooks,
            Map<String, INDArray> cache,
            String hook,
            String point,
            INDArray rows,
            long[] lead,
            long width) {
        String name = SaeHookNames.of(hook, point);
        INDArray value = rows;
        List<ForwardHook> fns = hooks.get(name);
        if (fns != null) {
            INDArray shaped = rows.reshape('c', withWidth(lead, width));
            for (ForwardHook fn : fns) {
                INDArray r = fn.apply(shaped, HookPoint.of(name));
                if (r != null) {
                    if (!Arrays.equals(r.shape(), shaped.shape()))
                        throw new LoupeException("hook '" + name + "' returned shape " + Arrays.toString(r.shape())
                                + ", expected " + Arrays.toString(shaped.shape()));
                    shaped = r.castTo(DataType.FLOAT);
                }
            }
            value = shaped.reshape('c', rows.size(0), width);
        }
        record(cache, hook, point, value, lead, width);
        return fns == null ? rows : value;
    }

    private static void record(
            Map<String, INDArray> cache, String hook, String point, INDArray rows, long[] lead, long width) {
        if (cache != null) cache.put(SaeHookNames.of(hook, point), rows.reshape('c', withWidth(lead, width)));
    }

    private static long[] leading(long[] shape, int trailing) {
        return Arrays.copyOf(shape, shape.length - trailing);
    }

    private static long[] withWidth(long[] lead, long width) {
        long[] s = Arrays.copyOf(lead, lead.length + 1);
        s[lead.length] = width;
        return s;
    }
}
