package dev.loupe.notebooks.display;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.viz.Figure;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Attention patterns as an interactive heatmap: pick the layer and head from a menu, query tokens
 * down the side, key tokens along the top, the attention weight on hover. Made from a cache's
 * {@code blocks.{l}.attn.hook_pattern} ({@code [batch, head, q_pos, k_pos]}) or from any
 * {@code [head, q_pos, k_pos]} array.
 */
public final class AttentionView {

    private final List<String> tokens;
    private final List<String> labels; // one per pattern: "L0H3"
    private final List<double[][]> patterns; // each [q_pos][k_pos]
    private int selected;

    private AttentionView(List<String> tokens, List<String> labels, List<double[][]> patterns) {
        this.tokens = List.copyOf(tokens);
        this.labels = labels;
        this.patterns = patterns;
    }

    /** Every head of one layer, for batch element {@code batch}. */
    public static AttentionView of(ActivationCache cache, int layer, List<String> tokens, int batch) {
        List<String> labels = new ArrayList<>();
        List<double[][]> patterns = new ArrayList<>();
        addLayer(cache, layer, tokens, batch, labels, patterns);
        return new AttentionView(tokens, labels, patterns);
    }

    /** Every head of every layer whose pattern the cache holds, for batch element {@code batch}. */
    public static AttentionView of(ActivationCache cache, List<String> tokens, int batch) {
        List<String> labels = new ArrayList<>();
        List<double[][]> patterns = new ArrayList<>();
        for (int layer = 0; cache.contains(HookNames.actName("pattern", layer)); layer++) {
            addLayer(cache, layer, tokens, batch, labels, patterns);
        }
        if (patterns.isEmpty()) {
            throw new LoupeException("attention: the cache holds no blocks.{layer}.attn.hook_pattern; run with"
                    + " ActivationFilter.all() or a filter that keeps the patterns");
        }
        return new AttentionView(tokens, labels, patterns);
    }

    /** Patterns {@code [head, q_pos, k_pos]} from anywhere (a cache slice, a patched run, a mean). */
    public static AttentionView of(INDArray pattern, List<String> tokens) {
        if (pattern.rank() != 3) {
            throw new LoupeException("attention: expected a pattern of shape [head, q_pos, k_pos], got "
                    + java.util.Arrays.toString(pattern.shape()));
        }
        List<String> labels = new ArrayList<>();
        List<double[][]> patterns = new ArrayList<>();
        for (int h = 0; h < pattern.size(0); h++) {
            labels.add("head " + h);
            patterns.add(square(pattern.slice(h), tokens, "attention pattern head " + h));
        }
        return new AttentionView(tokens, labels, patterns);
    }

    private static void addLayer(
            ActivationCache cache,
            int layer,
            List<String> tokens,
            int batch,
            List<String> labels,
            List<double[][]> patterns) {
        String name = HookNames.actName("pattern", layer);
        if (!cache.contains(name)) {
            throw new LoupeException("attention: the cache has no " + name + " (layer " + layer
                    + "); cache it with ActivationFilter.all() or a filter naming it");
        }
        INDArray p = cache.get(name); // [batch, head, q_pos, k_pos]
        if (batch < 0 || batch >= p.size(0)) {
            throw new LoupeException(
                    "attention: batch index " + batch + " out of range for " + name + " with batch size " + p.size(0));
        }
        INDArray one = p.slice(batch); // [head, q_pos, k_pos]
        for (int h = 0; h < one.size(0); h++) {
            labels.add("L" + layer + "H" + h);
            patterns.add(square(one.slice(h), tokens, name + " head " + h));
        }
    }

    private static double[][] square(INDArray m, List<String> tokens, String what) {
        if (m.rank() != 2 || m.size(0) != m.size(1)) {
            throw new LoupeException(
                    "attention: " + what + " is not square [q_pos, k_pos]: " + java.util.Arrays.toString(m.shape()));
        }
        if (m.size(0) != tokens.size()) {
            throw new LoupeException(
                    "attention: " + tokens.size() + " token strings for " + what + " over " + m.size(0) + " positions");
        }
        return m.toDoubleMatrix();
    }

    /** The head shown first, by its label ("L1H4", or "head 4" for a bare pattern). */
    public AttentionView show(String label) {
        int i = labels.indexOf(label);
        if (i < 0) throw new LoupeException("attention: no head '" + label + "'; the view has " + labels);
        selected = i;
        return this;
    }

    public List<String> heads() {
        return List.copyOf(labels);
    }

    public String html() {
        int n = tokens.size();
        ObjectNode fig = Figure.JSON.createObjectNode();
        ArrayNode data = fig.putArray("data");
        ObjectNode trace = data.addObject();
        trace.put("type", "heatmap");
        trace.set("z", Figure.matrix(patterns.get(selected)));
        // Weights are probabilities: white at 0 (most cells of a causal pattern), dark at 1, as CircuitsVis.
        trace.put("zmin", 0).put("zmax", 1).set("colorscale", Figure.sequentialScale());
        ArrayNode custom = trace.putArray("customdata");
        for (int q = 0; q < n; q++) {
            ArrayNode row = custom.addArray();
            for (int k = 0; k < n; k++)
                row.add("query " + q + " " + quote(tokens.get(q)) + " → key " + k + " " + quote(tokens.get(k)));
        }
        trace.put("hovertemplate", "%{customdata}<br>attention %{z:.4f}<extra></extra>");

        ObjectNode layout = fig.putObject("layout");
        layout.set("title", title(labels.get(selected)));
        layout.set(
                "margin",
                Figure.JSON
                        .createObjectNode()
                        .put("l", 80)
                        .put("r", 30)
                        .put("t", 110)
                        .put("b", 40));
        ObjectNode x = layout.putObject("xaxis");
        ObjectNode y = layout.putObject("yaxis");
        x.put("side", "top")
                .put("tickmode", "array")
                .put("title", "key")
                .put("zeroline", false)
                .put("showgrid", false);
        y.put("autorange", "reversed")
                .put("tickmode", "array")
                .put("title", "query")
                .put("zeroline", false)
                .put("showgrid", false);
        y.put("scaleanchor", "x");
        ArrayNode xv = x.putArray("tickvals"),
                xt = x.putArray("ticktext"),
                yv = y.putArray("tickvals"),
                yt = y.putArray("ticktext");
        for (int i = 0; i < n; i++) {
            xv.add(i);
            yv.add(i);
            xt.add(tokens.get(i));
            yt.add(tokens.get(i));
        }
        if (labels.size() > 1) {
            ObjectNode menu = layout.putArray("updatemenus").addObject();
            menu.put("direction", "down")
                    .put("x", 0)
                    .put("xanchor", "left")
                    .put("y", 1.25)
                    .put("yanchor", "top");
            menu.put("active", selected).put("showactive", true);
            ArrayNode buttons = menu.putArray("buttons");
            for (int i = 0; i < labels.size(); i++) {
                ObjectNode b = buttons.addObject();
                b.put("label", labels.get(i)).put("method", "update");
                ArrayNode args = b.putArray("args");
                args.addObject().putArray("z").add(Figure.matrix(patterns.get(i)));
                args.addObject().set("title", title(labels.get(i)));
            }
        }
        int height = Math.min(900, Math.max(380, 16 * n + 180));
        try {
            return Figure.plotHtml(Figure.JSON.writeValueAsString(fig), height, "");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new LoupeException("cannot write attention view JSON: " + e.getMessage(), e);
        }
    }

    /** The key axis is at the top, under the title: the title sits at the top of the figure. */
    private static ObjectNode title(String head) {
        return Figure.JSON
                .createObjectNode()
                .put("text", "attention " + head)
                .put("y", 0.99)
                .put("yanchor", "top");
    }

    private static String quote(String token) {
        return "'" + token + "'";
    }

    @Override
    public String toString() {
        return "AttentionView(" + labels.size() + " heads over " + tokens.size() + " tokens, showing "
                + labels.get(selected) + ")";
    }
}
