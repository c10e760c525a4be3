package dev.loupe.engine.generate;

import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What {@link Generator#generate} produced, per sequence of the prompt batch: the full sequence
 * (the prompt without its padding, then the generated tokens) and the generated part alone. A
 * sequence that hit a stop token ends with it. Arrays handed out are copies.
 */
public final class GenerationResult {

    /** Why a sequence stopped. */
    public enum FinishReason {
        /** it produced one of {@link SamplingConfig#stopTokens()} */
        STOP_TOKEN,
        /** it reached {@link SamplingConfig#maxNewTokens()} */
        MAX_NEW_TOKENS
    }

    private final int[][] prompts, generated;
    private final FinishReason[] reasons;

    GenerationResult(int[][] prompts, int[][] generated, FinishReason[] reasons) {
        this.prompts = prompts;
        this.generated = generated;
        this.reasons = reasons;
    }

    public int batch() {
        return prompts.length;
    }

    /** Prompt (without padding) followed by the generated tokens of sequence {@code b}. */
    public int[] sequence(int b) {
        int[] out = Arrays.copyOf(prompts[b], prompts[b].length + generated[b].length);
        System.arraycopy(generated[b], 0, out, prompts[b].length, generated[b].length);
        return out;
    }

    /** The generated tokens of sequence {@code b}, including the stop token that ended it. */
    public int[] generated(int b) {
        return generated[b].clone();
    }

    public List<int[]> sequences() {
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batch(); b++) out.add(sequence(b));
        return out;
    }

    public List<int[]> generated() {
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batch(); b++) out.add(generated(b));
        return out;
    }

    public FinishReason finishReason(int b) {
        return reasons[b];
    }

    /** The full sequences as one batch, padded on {@code side}: ready to score or cache with the model. */
    public Tokens toTokens(int padId, Tokens.Side side) {
        return Tokens.padded(sequences(), padId, side);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("GenerationResult[");
        for (int b = 0; b < batch(); b++)
            s.append(b == 0 ? "" : ", ")
                    .append(Arrays.toString(generated[b]))
                    .append(' ')
                    .append(reasons[b]);
        return s.append(']').toString();
    }
}
