package dev.loupe.engine.generate;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.GenerationResult.FinishReason;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.KvCache;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Autoregressive text generation, TransformerLens's {@code model.generate}:
 * <pre>{@code
 * GenerationResult r = Generator.generate(model, Tokens.of(prompt), SamplingConfig.greedy(20),
 *         (row, token, step) -> System.out.print(tokenizer.decode(token)));
 * int[] continuation = r.generated(0);
 * }</pre>
 *
 * <p>With the KV cache (the default) the prompt is run once and each step then runs only the one
 * new token per sequence; without it every step reruns the whole sequence. Both give the same
 * logits up to float rounding, and a batch row gives the same logits as the row alone, whatever its
 * padding: each row's continuation does not depend on the rest of the batch.
 *
 * <p>Every step is an ordinary {@link HookedTransformer#forward}, so the model's permanent hooks
 * apply to every step, as do the per-generation hooks passed here. With the KV cache a hook sees
 * only the new positions ([batch, prompt length, ...] once, then [batch, 1, ...]); without it, the
 * whole sequence each step.
 *
 * <p>Sequences that produce a stop token are finished: no further tokens are appended or reported
 * for them. So that the batch stays rectangular, their stop token is fed again while the other
 * rows go on; its outputs are discarded. Generation ends when every sequence is finished or after
 * {@link SamplingConfig#maxNewTokens()} steps.
 */
public final class Generator {
    private Generator() {}

    /** Generates without per-generation hooks or a listener. */
    public static GenerationResult generate(HookedTransformer model, Tokens prompt, SamplingConfig cfg) {
        return generate(model, prompt, cfg, List.of(), TokenListener.none());
    }

    /** Generates, calling {@code onToken} as each token is produced. */
    public static GenerationResult generate(
            HookedTransformer model, Tokens prompt, SamplingConfig cfg, TokenListener onToken) {
        return generate(model, prompt, cfg, List.of(), onToken);
    }

    /**
     * Generates with {@code hooks} active on every step (in addition to the model's permanent hooks),
     * calling {@code onToken} as each token is produced.
     *
     * @param prompt [batch, pos]; may be padded on either side ({@link Tokens#padded})
     * @throws LoupeException before any work if the prompt's length plus {@code maxNewTokens} exceeds
     *                        n_ctx, or a stop token is outside the vocabulary
     */
    public static GenerationResult generate(
            HookedTransformer model, Tokens prompt, SamplingConfig cfg, List<Hook> hooks, TokenListener onToken) {
        if (model == null) throw new LoupeException("generate: model is null");
        if (prompt == null) throw new LoupeException("generate: prompt is null");
        if (cfg == null) throw new LoupeException("generate: sampling config is null");
        if (hooks == null) throw new LoupeException("generate: hooks is null (pass List.of())");
        if (onToken == null) throw new LoupeException("generate: token listener is null (pass TokenListener.none())");
        ModelConfig mc = model.config();
        // The padded prompt and every generated position must fit: the cache holds padding too.
        if ((long) prompt.length() + cfg.maxNewTokens() > mc.nCtx())
            throw new LoupeException(
                    "generate: prompt length " + prompt.length() + " + maxNewTokens " + cfg.maxNewTokens() + " = "
                            + (prompt.length() + cfg.maxNewTokens()) + " exceeds n_ctx = " + mc.nCtx());
        for (int t : cfg.stopTokens())
            if (t >= mc.dVocab())
                throw new LoupeException(
                        "generate: stop token " + t + " is outside the vocabulary 0.." + (mc.dVocab() - 1));
        return new Run(model, prompt, cfg, List.copyOf(hooks), onToken).run();
    }

    /** The state of one generation. */
    private static final class Run {
        private final HookedTransformer model;
        private final Tokens prompt;
        private final SamplingConfig cfg;
        private final List<Hook> hooks;
        private final TokenListener onToken;
        private final int B;
        private final int[][] generated; // [batch][maxNewTokens]; the first count[b] are used
        private final int[] count;
        private final boolean[] active;
        private final FinishReason[] reasons;

        Run(HookedTransformer model, Tokens prompt, SamplingConfig cfg, List<Hook> hooks, TokenListener onToken) {
            this.model = model;
            this.prompt = prompt;
            this.cfg = cfg;
            this.hooks = hooks;
            this.onToken = onToken;
            B = prompt.batch();
            generated = new int[B][cfg.maxNewTokens()];
            count = new int[B];
            active = new boolean[B];
            Arrays.fill(active, true);
            reasons = new FinishReason[B];
            Arrays.fill(reasons, FinishReason.MAX_NEW_TOKENS);
        }

        GenerationResult run() {
            if (cfg.maxNewTokens() > 0) loop();
            int[][] prompts = new int[B][], gen = new int[B][];
            for (int b = 0; b < B; b++) {
                prompts[b] = realTokens(b);
                gen[b] = Arrays.copyOf(generated[b], count[b]);
            }
            return new GenerationResult(prompts, gen, reasons);
        }

        private void loop() {
            Sampler sampler = new Sampler(cfg, B);
            KvCache kv = cfg.useKvCache() ? new KvCache(model.config().nLayers()) : null;
            INDArray logits = lastLogits(forward(prompt, kv), lastRealPositions()); // [B, V]
            for (int step = 0; ; step++) {
                int[] next = sampler.next(logits, active, step);
                for (int b = 0; b < B; b++) {
                    if (!active[b]) continue;
                    generated[b][count[b]++] = next[b];
                    onToken.onToken(b, next[b], step);
                    if (cfg.stopTokens().contains(next[b])) {
                        active[b] = false;
                        reasons[b] = FinishReason.STOP_TOKEN;
                    }
                }
                if (step + 1 == cfg.maxNewTokens() || !anyActive()) return;
                Tokens input = kv != null ? lastTokens() : fullSequence();
                INDArray out = forward(input, kv);
                logits = out.get(NDArrayIndex.all(), NDArrayIndex.point(out.size(1) - 1), NDArrayIndex.all());
            }
        }

        private INDArray forward(Tokens tokens, KvCache kv) {
            return model.forward(
                            ForwardRequest.of(tokens).kvCache(kv).hooks(hooks).build())
                    .logits();
        }

        /** [B, 1]: each row's newest token (a finished row's stop token, whose outputs are ignored). */
        private Tokens lastTokens() {
            int[][] ids = new int[B][1];
            for (int b = 0; b < B; b++) ids[b][0] = generated[b][count[b] - 1];
            return Tokens.of(ids);
        }

        /** The padded prompt followed by every row's generated tokens, finished rows repeating their last. */
        private Tokens fullSequence() {
            int P = prompt.length(), steps = Arrays.stream(count).max().orElse(0);
            int[][] ids = new int[B][P + steps], mask = prompt.padded() ? new int[B][P + steps] : null;
            for (int b = 0; b < B; b++) {
                System.arraycopy(prompt.ids()[b], 0, ids[b], 0, P);
                for (int s = 0; s < steps; s++) ids[b][P + s] = generated[b][Math.min(s, count[b] - 1)];
                if (mask != null) {
                    System.arraycopy(prompt.mask()[b], 0, mask[b], 0, P);
                    Arrays.fill(mask[b], P, P + steps, 1);
                }
            }
            return new Tokens(ids, mask);
        }

        /** Where each row's prompt ends: its last real token (not the last column, if padded on the right). */
        private int[] lastRealPositions() {
            int[] last = new int[B];
            for (int b = 0; b < B; b++) {
                int p = prompt.length() - 1;
                while (!prompt.isToken(b, p)) p--;
                last[b] = p;
            }
            return last;
        }

        /** [B, V]: the logits at position {@code pos[b]} of each row of [B, T, V]. */
        private static INDArray lastLogits(INDArray logits, int[] pos) {
            INDArray out = Nd4j.createUninitialized(logits.dataType(), logits.size(0), logits.size(2));
            for (int b = 0; b < pos.length; b++)
                out.putRow(b, logits.get(NDArrayIndex.point(b), NDArrayIndex.point(pos[b]), NDArrayIndex.all()));
            return out;
        }

        private int[] realTokens(int b) {
            return IntStream.range(0, prompt.length())
                    .filter(p -> prompt.isToken(b, p))
                    .map(p -> prompt.ids()[b][p])
                    .toArray();
        }

        private boolean anyActive() {
            for (boolean a : active) if (a) return true;
            return false;
        }
    }
}
