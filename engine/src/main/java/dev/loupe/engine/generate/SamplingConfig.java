package dev.loupe.engine.generate;

import dev.loupe.engine.LoupeException;
import java.util.Set;

/**
 * How {@link Generator} picks each next token and when it stops. Build one with {@link #builder()};
 * the defaults follow TransformerLens's {@code generate}: temperature 1, no top-k, no top-p,
 * 10 new tokens, KV cache on.
 *
 * <p>The filters apply in Hugging Face's order: logits are divided by the temperature, then top-k,
 * then top-p (on the distribution top-k left), then one token is drawn. Temperature 0 means greedy
 * (argmax, lowest id on ties) and ignores top-k and top-p.
 *
 * @param temperature  divides the logits; 0 = greedy. Must be finite and {@code >= 0}
 * @param topK         keep only the k largest logits (ties with the k-th are kept too); 0 = off
 * @param topP         nucleus sampling: keep the smallest set of most likely tokens whose probability
 *                     mass is at least p (always at least one token); 1.0 = off. Must be in (0, 1]
 * @param seed         seeds the random draws: the same seed, model, prompt and config give the same tokens
 * @param maxNewTokens how many tokens to generate at most per sequence; {@code >= 0}
 * @param stopTokens   a sequence that produces one of these ids stops (the id is kept as its last token)
 * @param useKvCache   run only the new token through the model each step, reusing cached keys and
 *                     values; false recomputes the whole sequence each step (slower; the reference
 *                     the cached path is tested against)
 */
public record SamplingConfig(
        double temperature,
        int topK,
        double topP,
        long seed,
        int maxNewTokens,
        Set<Integer> stopTokens,
        boolean useKvCache) {

    public SamplingConfig {
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new LoupeException("sampling: temperature must be finite and >= 0 (0 = greedy), got " + temperature);
        if (topK < 0) throw new LoupeException("sampling: topK must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1))
            throw new LoupeException("sampling: topP must be in (0, 1] (1 = off), got " + topP);
        if (maxNewTokens < 0) throw new LoupeException("sampling: maxNewTokens must be >= 0, got " + maxNewTokens);
        if (stopTokens == null) stopTokens = Set.of();
        for (Integer t : stopTokens)
            if (t == null || t < 0) throw new LoupeException("sampling: stopTokens must be token ids >= 0, got " + t);
        stopTokens = Set.copyOf(stopTokens);
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens, with the KV cache. */
    public static SamplingConfig greedy(int maxNewTokens) {
        return builder().temperature(0).maxNewTokens(maxNewTokens).build();
    }

    /** True when each token is the argmax (temperature 0). */
    public boolean isGreedy() {
        return temperature == 0;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder()
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .seed(seed)
                .maxNewTokens(maxNewTokens)
                .stopTokens(stopTokens)
                .useKvCache(useKvCache);
    }

    public static final class Builder {
        private double temperature = 1.0;
        private int topK = 0;
        private double topP = 1.0;
        private long seed = 0;
        private int maxNewTokens = 10;
        private Set<Integer> stopTokens = Set.of();
        private boolean useKvCache = true;

        public Builder temperature(double v) {
            temperature = v;
            return this;
        }

        public Builder topK(int v) {
            topK = v;
            return this;
        }

        public Builder topP(double v) {
            topP = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder maxNewTokens(int v) {
            maxNewTokens = v;
            return this;
        }

        public Builder stopTokens(Set<Integer> v) {
            stopTokens = v;
            return this;
        }

        public Builder stopTokens(int... ids) {
            stopTokens = java.util.Arrays.stream(ids).boxed().collect(java.util.stream.Collectors.toSet());
            return this;
        }

        public Builder useKvCache(boolean v) {
            useKvCache = v;
            return this;
        }

        /** @throws LoupeException naming the first argument out of range */
        public SamplingConfig build() {
            return new SamplingConfig(temperature, topK, topP, seed, maxNewTokens, stopTokens, useKvCache);
        }
    }
}
