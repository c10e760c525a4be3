package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.hooks.HookSite;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A Transformer whose every activation has a TransformerLens name and can be cached, replaced or
 * differentiated. The verbs mirror TransformerLens's {@code HookedTransformer}:
 * <pre>{@code
 * INDArray logits = model.run(tokens);
 * ForwardResult r = model.runWithCache(tokens, ActivationFilter.all());   // r.logits(), r.cache()
 * INDArray patched = model.runWithHooks(tokens, Hook.forward("z", 0, (z, h) -> ...));
 * Tokens t = model.toTokens("The cat sat");                               // with its tokenizer
 * }</pre>
 * Permanent hooks ({@link #addHook}) apply to every pass until removed; {@link #withHooks} adds
 * them for a try-with-resources block. A model loaded from a folder that holds a tokenizer has it
 * attached ({@link #tokenizer()}); {@link #setTokenizer} attaches one.
 */
public final class HookedTransformer {
    private final ModelConfig config;
    private final Weights weights;
    private final List<Hook> permanentHooks = new ArrayList<>();
    private Supplier<Tokenizer> tokenizer; // null: none attached

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
     * off, as TransformerLens's {@code set_use_attn_result}. Shares the weights (no copy) and the
     * tokenizer; hooks are not carried over.
     */
    public HookedTransformer useAttnResult(boolean on) {
        HookedTransformer m =
                new HookedTransformer(config.toBuilder().useAttnResult(on).build(), weights);
        m.tokenizer = tokenizer;
        return m;
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

    /** Logits and the activations the filter accepts, with hooks active for this pass only (the cache holds what the hooks left). */
    public ForwardResult runWithCache(Tokens tokens, ActivationFilter filter, Hook... hooks) {
        return forward(ForwardRequest.of(tokens).cache(filter).hooks(hooks).build());
    }

    /** Logits [1, pos, d_vocab] of a text through the attached tokenizer (BOS prepended), with hooks for this pass. */
    public INDArray run(String text, Hook... hooks) {
        return runWithHooks(toTokens(text), hooks);
    }

    /**
     * Mean next-token cross-entropy of the tokens under this model, with hooks active for this pass
     * only (TransformerLens: {@code run_with_hooks(tokens, return_type="loss", fwd_hooks=...)}).
     */
    public double loss(Tokens tokens, Hook... hooks) {
        INDArray logits = runWithHooks(tokens, hooks);
        try (Graph g = Graph.inference()) {
            return Losses.nextToken(g.constant(logits), tokens).item();
        }
    }

    /** {@link #loss(Tokens, Hook...)} of a text through the attached tokenizer (BOS prepended). */
    public double loss(String text, Hook... hooks) {
        return loss(toTokens(text), hooks);
    }

    /**
     * The cross-entropy of each next-token prediction, [batch, pos - 1] (0 where padding is
     * involved), with hooks active for this pass only: TransformerLens's {@code loss_per_token=True}.
     */
    public INDArray perTokenLoss(Tokens tokens, Hook... hooks) {
        INDArray logits = runWithHooks(tokens, hooks);
        try (Graph g = Graph.inference()) {
            return Losses.perPosition(g.constant(logits), tokens).data().dup(); // outlives the graph
        }
    }

    // ------------------------------------------------------------------ the tokenizer

    /** The attached tokenizer; an error when none is attached. */
    public Tokenizer tokenizer() {
        if (tokenizer == null)
            throw new LoupeException("this model has no tokenizer: load it from a folder holding tokenizer.json, "
                    + "vocab.json + merges.txt or tokenizer.bin, or attach one with model.setTokenizer(...)");
        return tokenizer.get();
    }

    /** Whether a tokenizer is attached. */
    public boolean hasTokenizer() {
        return tokenizer != null;
    }

    /** Attaches a tokenizer (TransformerLens's {@code set_tokenizer}). */
    public void setTokenizer(Tokenizer t) {
        if (t == null) throw new LoupeException("setTokenizer: the tokenizer is null");
        tokenizer = () -> t;
    }

    /**
     * Attaches the tokenizer at {@code path} (a file or a model folder, as {@link Tokenizers#load}
     * reads), loaded when first used: loading a model does not pay for a tokenizer never used.
     */
    public void setTokenizer(Path path) {
        if (path == null) throw new LoupeException("setTokenizer: the path is null");
        Tokenizer[] loaded = new Tokenizer[1];
        tokenizer = () -> {
            synchronized (loaded) {
                if (loaded[0] == null) loaded[0] = Tokenizers.load(path);
                return loaded[0];
            }
        };
    }

    /** TransformerLens's {@code to_tokens}: one text, BOS prepended, as a batch of one. */
    public Tokens toTokens(String text) {
        return toTokens(text, true);
    }

    /** {@code to_tokens(text, prepend_bos=...)}. */
    public Tokens toTokens(String text, boolean prependBos) {
        int[] ids = tokenizer().toTokens(text, prependBos);
        if (ids.length == 0)
            throw new LoupeException("toTokens: the text encodes to no tokens (empty text without a BOS)");
        return Tokens.of(ids);
    }

    /** {@code to_tokens(list)}: texts padded on the right (TransformerLens's default), BOS prepended. */
    public Tokens toTokens(List<String> texts) {
        return tokenizer().encodeBatch(texts, true, Tokens.Side.RIGHT);
    }

    /** TransformerLens's {@code to_str_tokens} of a text: each token's text, BOS first. */
    public List<String> toStrTokens(String text) {
        return toStrTokens(text, true);
    }

    /** {@code to_str_tokens(text, prepend_bos=...)}. */
    public List<String> toStrTokens(String text, boolean prependBos) {
        return tokenizer().toStrTokens(tokenizer().toTokens(text, prependBos));
    }

    /** {@code to_str_tokens} of ids: each id decoded on its own. */
    public List<String> toStrTokens(int... ids) {
        return tokenizer().toStrTokens(ids);
    }

    /**
     * TransformerLens's {@code to_single_token}: the id of a text that is exactly one token (no BOS);
     * an error naming the text and its tokens otherwise.
     */
    public int toSingleToken(String text) {
        int[] ids = tokenizer().toTokens(text, false);
        if (ids.length != 1)
            throw new LoupeException("toSingleToken: '" + text + "' is not a single token: it is " + ids.length
                    + " tokens " + tokenizer().toStrTokens(ids));
        return ids[0];
    }

    /**
     * TransformerLens's {@code get_token_position(token, input)}: the first position of a token in
     * the tokens of {@code input} (BOS prepended, so position 0 is the BOS).
     */
    public int getTokenPosition(String token, String input) {
        return getTokenPosition(toSingleToken(token), toTokens(input).ids()[0], "first");
    }

    /** {@code get_token_position(token_id, tokens, mode)}: mode "first" or "last"; an error when the token is absent. */
    public int getTokenPosition(int token, int[] ids, String mode) {
        if (!"first".equals(mode) && !"last".equals(mode))
            throw new LoupeException("getTokenPosition: mode must be \"first\" or \"last\", got \"" + mode + "\"");
        int found = -1;
        for (int p = 0; p < ids.length; p++)
            if (ids[p] == token) {
                found = p;
                if (mode.equals("first")) break;
            }
        if (found < 0) throw new LoupeException("getTokenPosition: token " + token + " does not occur in the input");
        return found;
    }

    /**
     * TransformerLens's {@code utils.test_prompt(prompt, answer, model)}: runs prompt + answer (a
     * space put before the answer when it has none; BOS prepended) and reports, for each answer
     * token, its rank, logit and probability at the position before it, and the top 10 tokens there.
     * {@code System.out.println(model.testPrompt(...))} prints it as TransformerLens does.
     */
    public PromptTest testPrompt(String prompt, String answer) {
        return PromptTest.run(this, prompt, answer, true, true, 10);
    }

    /** {@link #testPrompt(String, String)} with TransformerLens's options. */
    public PromptTest testPrompt(
            String prompt, String answer, boolean prependSpaceToAnswer, boolean prependBos, int topK) {
        return PromptTest.run(this, prompt, answer, prependSpaceToAnswer, prependBos, topK);
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
