package dev.loupe.store.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.store.StoreDType;
import java.util.List;

/**
 * What to harvest.
 *
 * @param hooks          hook names (full or short, e.g. {@code resid_post5}); any number, one forward pass
 * @param contextSize    tokens per sequence
 * @param batchSize      sequences per forward pass
 * @param dtype          storage dtype (compute is float32)
 * @param maxTokens      stop after this many rows (rounded down to whole sequences); 0 = the whole corpus
 * @param shardMb        target shard size in MiB (all hooks together), rounded to whole batches
 * @param beginBatch     token starting every sequence (SAELens prepend_bos: the BOS); null = none
 * @param beginSequence  token starting every document; null = none (SAELens's default)
 * @param separator      token between documents in a sequence (SAELens's default: the BOS); null = none
 */
public record HarvestConfig(
        List<String> hooks,
        int contextSize,
        int batchSize,
        StoreDType dtype,
        long maxTokens,
        double shardMb,
        Integer beginBatch,
        Integer beginSequence,
        Integer separator) {
    public HarvestConfig {
        hooks = List.copyOf(hooks);
        if (hooks.isEmpty()) throw new LoupeException("harvest: no hooks given (--hooks h1,h2)");
        if (contextSize < 1) throw new LoupeException("harvest: --context must be >= 1, got " + contextSize);
        if (batchSize < 1) throw new LoupeException("harvest: --batch must be >= 1, got " + batchSize);
        if (maxTokens < 0) throw new LoupeException("harvest: --max-tokens must be >= 0, got " + maxTokens);
        if (maxTokens > 0 && maxTokens < contextSize)
            throw new LoupeException(
                    "harvest: --max-tokens " + maxTokens + " is less than one sequence of --context " + contextSize);
        if (!(shardMb > 0) || shardMb > 1024)
            throw new LoupeException("harvest: --shard-mb must be in (0, 1024], got " + shardMb);
    }

    /** SAELens's defaults: BOS starts each sequence and separates documents. */
    public static HarvestConfig of(List<String> hooks, int contextSize, int batchSize, StoreDType dtype, int bos) {
        return new HarvestConfig(hooks, contextSize, batchSize, dtype, 0, 256, bos, null, bos);
    }

    public HarvestConfig withMaxTokens(long n) {
        return new HarvestConfig(
                hooks, contextSize, batchSize, dtype, n, shardMb, beginBatch, beginSequence, separator);
    }

    public HarvestConfig withShardMb(double mb) {
        return new HarvestConfig(
                hooks, contextSize, batchSize, dtype, maxTokens, mb, beginBatch, beginSequence, separator);
    }
}
