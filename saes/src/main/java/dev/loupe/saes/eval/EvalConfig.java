package dev.loupe.saes.eval;

import java.util.Set;

/**
 * How SAEs are evaluated, as SAELens's {@code EvalConfig} and {@code run_evals}.
 *
 * @param ignoreTokens   token ids whose positions are left out of every metric and keep their original
 *                       activation in the spliced runs (SAELens: the tokenizer's BOS, EOS and PAD)
 * @param denseThreshold a latent firing on more than this fraction of tokens counts as dense
 */
public record EvalConfig(Set<Integer> ignoreTokens, double denseThreshold) {
    public EvalConfig {
        ignoreTokens = ignoreTokens == null ? Set.of() : Set.copyOf(ignoreTokens);
    }

    /** Leaves out the BOS token's positions (pass null for none). */
    public static EvalConfig ignoring(Integer bos) {
        return new EvalConfig(bos == null ? Set.of() : Set.of(bos), 0.1);
    }
}
