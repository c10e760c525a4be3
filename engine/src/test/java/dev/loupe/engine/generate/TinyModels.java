package dev.loupe.engine.generate;

import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Activation;
import dev.loupe.engine.model.ModelConfig.Biases;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.Weights;
import java.util.List;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Small random float32 models covering the architectures generation must handle. */
final class TinyModels {
    static final int VOCAB = 61, N_CTX = 40;

    private TinyModels() {}

    /** GPT-2 layout with TransformerLens's GPT-2 init (LayerNorm, learned positions, GELU). */
    static HookedTransformer gpt2() {
        return HookedTransformer.random(base().build(), 11);
    }

    /** GPT-2 layout with every parameter random, norms and biases included: larger, less uniform logits. */
    static HookedTransformer gpt2Perturbed() {
        ModelConfig c = base().build();
        return new HookedTransformer(c, Weights.random(c, 12, true));
    }

    /** Llama layout: rotary, grouped-query attention, RMSNorm, SwiGLU, no biases. */
    static HookedTransformer llama() {
        ModelConfig c = base().nHeads(4)
                .nKvHeads(2)
                .dHead(8)
                .normalization(Normalization.RMS_NORM)
                .positional(Positional.ROTARY)
                .activation(Activation.SILU_GATED)
                .dMlp(48)
                .biases(Biases.none())
                .build();
        return new HookedTransformer(c, Weights.random(c, 13, true));
    }

    /** GPT-NeoX layout: partial rotary, parallel attention and MLP. */
    static HookedTransformer neox() {
        ModelConfig c = base().positional(Positional.ROTARY)
                .rotaryDim(4)
                .parallelAttnMlp(true)
                .build();
        return new HookedTransformer(c, Weights.random(c, 14, true));
    }

    /**
     * Gemma 2 layout: local attention (window 5) on layers 0 and 2, soft-capped scores and logits,
     * norms after each sublayer, scaled and tied embeddings, GeGLU.
     */
    static HookedTransformer gemma2() {
        ModelConfig c = base().nLayers(3)
                .nHeads(4)
                .nKvHeads(2)
                .dHead(8)
                .normalization(Normalization.RMS_NORM)
                .useNormalizationBeforeAndAfter(true)
                .positional(Positional.ROTARY)
                .activation(Activation.GELU_GATED)
                .dMlp(48)
                .biases(Biases.none())
                .tiedEmbeddings(true)
                .embedScale(Math.sqrt(32))
                .attnScale(4.5)
                .attnScoresSoftCap(2)
                .outputLogitsSoftCap(5)
                .windowSize(5)
                .localAttnLayers(0, 2)
                .build();
        return new HookedTransformer(c, Weights.random(c, 15, true));
    }

    static List<HookedTransformer> all() {
        return List.of(gpt2(), gpt2Perturbed(), llama(), neox(), gemma2());
    }

    private static ModelConfig.Builder base() {
        return ModelConfig.builder()
                .dModel(32)
                .nLayers(2)
                .nHeads(4)
                .dVocab(VOCAB)
                .nCtx(N_CTX);
    }

    static int[] randomTokens(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < t.length; i++) t[i] = r.nextInt(VOCAB);
        return t;
    }

    /** A hook on the logits that makes {@code token} win at every position. */
    static Hook force(int token) {
        return Hook.forward("unembed.hook_out", (logits, h) -> {
            INDArray out = logits.dup();
            for (long b = 0; b < out.size(0); b++)
                for (long p = 0; p < out.size(1); p++) out.putScalar(new long[] {b, p, token}, 1e4);
            return out;
        });
    }
}
