package dev.loupe.notebooks;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.analysis.PatchResult;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.notebooks.display.AttentionView;
import dev.loupe.notebooks.display.Markdown;
import dev.loupe.notebooks.display.TokenActivations;
import dev.loupe.notebooks.kernel.LoupeKernel;
import dev.loupe.viz.Figure;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The functions every notebook cell has imported: {@code display}, plots, the attention and token
 * viewers, and small conversions between token ids, strings and arrays.
 */
public final class Notebook {

    private Notebook() {}

    /** Shows a value below the cell now (tables, figures and viewers as HTML, anything else as text). */
    public static void display(Object value) {
        LoupeKernel kernel = LoupeKernel.current();
        kernel.flushOutputs(); // what the cell printed before comes before the display
        DisplayData data =
                value instanceof DisplayData d ? d : kernel.getRenderer().render(value);
        kernel.display(data);
    }

    /** Markdown shown rendered: {@code display(markdown(Zoo.card("attn-only-2l")))}. */
    public static Markdown markdown(String text) {
        return new Markdown(text);
    }

    // ---- claims ------------------------------------------------------------------------------

    /**
     * States what the reader should see and checks it: prints {@code check: <claim>: ok}, or fails the
     * cell (and so the notebook test) when the claim does not hold.
     */
    public static void check(boolean holds, String claim) {
        if (!holds) throw new AssertionError("check failed: " + claim);
        System.out.println("check: " + claim + ": ok");
    }

    // ---- plots -------------------------------------------------------------------------------

    public static Figure heatmap(double[][] z) {
        return Figure.heatmap(z);
    }

    /** A heatmap of a 2-d array {@code [rows, columns]}. */
    public static Figure heatmap(INDArray z) {
        if (z.rank() != 2)
            throw new LoupeException("heatmap: expected a 2-d array, got shape " + Arrays.toString(z.shape()));
        return Figure.heatmap(z.toDoubleMatrix());
    }

    /**
     * A heatmap of a two-axis patching result: its first axis down (layer), its second across, each
     * titled with its axis name, white for zero.
     */
    public static Figure heatmap(PatchResult result) {
        if (result.axes().size() != 2)
            throw new LoupeException("heatmap: a patching result with 2 axes, got " + result.axes());
        return Figure.heatmap(result.toMatrix())
                .yTitle(result.axes().get(0))
                .xTitle(result.axes().get(1))
                .title(result.metric());
    }

    public static Figure line(double[] y) {
        return Figure.line(y);
    }

    public static Figure line(INDArray y) {
        return Figure.line(toDoubles(y));
    }

    public static Figure line(double[] x, double[] y) {
        return Figure.line(x, y);
    }

    /** A line with a legend name (add more with {@code .withLine(name, x, y)}). */
    public static Figure line(String name, double[] x, double[] y) {
        return Figure.line(name, x, y);
    }

    public static Figure scatter(double[] x, double[] y) {
        return Figure.scatter(x, y);
    }

    public static Figure scatter(INDArray x, INDArray y) {
        return Figure.scatter(toDoubles(x), toDoubles(y));
    }

    public static Figure bar(List<String> labels, double[] values) {
        return Figure.bar(labels, values);
    }

    public static Figure bar(List<String> labels, INDArray values) {
        return Figure.bar(labels, toDoubles(values));
    }

    // ---- viewers -----------------------------------------------------------------------------

    /** Every head of {@code layer} (batch element 0); tokens label both axes. */
    public static AttentionView attention(ActivationCache cache, int layer, List<String> tokens) {
        return AttentionView.of(cache, layer, tokens, 0);
    }

    public static AttentionView attention(ActivationCache cache, int layer, int[] tokenIds) {
        return AttentionView.of(cache, layer, tokenStrings(tokenIds), 0);
    }

    /** Every head of every cached layer (batch element 0). */
    public static AttentionView attention(ActivationCache cache, List<String> tokens) {
        return AttentionView.of(cache, tokens, 0);
    }

    public static AttentionView attention(ActivationCache cache, int[] tokenIds) {
        return AttentionView.of(cache, tokenStrings(tokenIds), 0);
    }

    /** A pattern {@code [head, q_pos, k_pos]} from anywhere. */
    public static AttentionView attention(INDArray pattern, List<String> tokens) {
        return AttentionView.of(pattern, tokens);
    }

    /** Tokens coloured by one value each. */
    public static TokenActivations tokenActivations(List<String> tokens, double[] values) {
        return TokenActivations.of(tokens, values);
    }

    /** Tokens coloured by {@code values [pos]}, or by {@code [rows, pos]} with a menu of rows "0", "1", ... */
    public static TokenActivations tokenActivations(List<String> tokens, INDArray values) {
        if (values.rank() == 1 || (values.rank() == 2 && values.size(0) == 1)) {
            return TokenActivations.of(tokens, toDoubles(values));
        }
        if (values.rank() != 2) {
            throw new LoupeException(
                    "tokenActivations: expected values [pos] or [rows, pos], got " + Arrays.toString(values.shape()));
        }
        List<String> names = new ArrayList<>();
        for (int r = 0; r < values.size(0); r++) names.add(String.valueOf(r));
        return TokenActivations.of(tokens, values.toDoubleMatrix(), names);
    }

    public static TokenActivations tokenActivations(List<String> tokens, double[][] values, List<String> rowNames) {
        return TokenActivations.of(tokens, values, rowNames);
    }

    // ---- conversions -------------------------------------------------------------------------

    /** Token ids as strings, for models without a tokenizer. */
    public static List<String> tokenStrings(int[] ids) {
        List<String> s = new ArrayList<>(ids.length);
        for (int id : ids) s.add(String.valueOf(id));
        return s;
    }

    /** Each token's own text, from a tokenizer. */
    public static List<String> tokenStrings(Tokenizer tokenizer, int[] ids) {
        List<String> s = new ArrayList<>(ids.length);
        for (int id : ids) s.add(tokenizer.tokenString(id));
        return s;
    }

    /** A vector (any shape with one non-unit dimension) as doubles. */
    public static double[] toDoubles(INDArray a) {
        return a.dup().reshape(a.length()).toDoubleVector();
    }
}
