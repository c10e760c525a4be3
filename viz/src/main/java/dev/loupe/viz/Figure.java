package dev.loupe.viz;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import java.util.List;
import java.util.UUID;

/**
 * A Plotly figure: traces and a layout, shown as HTML by the notebook (plotly.js comes with the
 * kernel, see {@link PlotlyJs}). Built by {@link #heatmap}, {@link #line}, {@link #scatter} and
 * {@link #bar}; more traces are added with {@code with...}; the layout with the setters. Mutable,
 * like a Plotly figure in Python.
 *
 * <p>Read like a paper's figure by default: a heatmap of signed values uses a diverging scale with
 * white at zero ({@link #DIVERGING}: negative blue, positive red, symmetric range), one of
 * non-negative values (probabilities, scores) a sequential scale from white at zero
 * ({@link #SEQUENTIAL}); a heatmap's axes without labels have integer ticks (layers, heads,
 * positions), its hover shows the axis titles and the value; every trace has a name (the y axis
 * title unless given), so no legend or hover says "trace 0".
 */
public final class Figure {

    public static final ObjectMapper JSON = Json.mapper();

    /** White at the low end (zero), dark blue at the high end: attention weights, probabilities, scores. */
    public static final List<String> SEQUENTIAL =
            List.of("#ffffff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b");

    /** Blue below zero, white at zero, red above (ColorBrewer RdBu with a white centre): signed values. */
    public static final List<String> DIVERGING = List.of(
            "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#ffffff", "#fddbc7", "#f4a582", "#d6604d",
            "#b2182b", "#67001f");

    private final ArrayNode data = JSON.createArrayNode();
    private final ObjectNode layout = JSON.createObjectNode();
    private int height = 450;

    private Figure() {
        layout.set(
                "margin",
                JSON.createObjectNode().put("l", 60).put("r", 30).put("t", 50).put("b", 50));
    }

    // ---- constructors ------------------------------------------------------------------------

    /**
     * A heatmap of {@code z[row][column]} (rows on the y axis, top to bottom): diverging from white at
     * zero when a value is negative, else sequential from white at zero (see the class comment).
     */
    public static Figure heatmap(double[][] z) {
        checkMatrix("heatmap", z);
        Figure f = new Figure();
        ObjectNode t = f.trace("heatmap");
        t.set("z", matrix(z));
        double maxAbs = 0;
        boolean signed = false;
        for (double[] row : z)
            for (double v : row)
                if (Double.isFinite(v)) {
                    maxAbs = Math.max(maxAbs, Math.abs(v));
                    signed |= v < 0;
                }
        if (signed) f.diverging(maxAbs);
        else f.sequential(0, maxAbs);
        f.axis("yaxis").put("autorange", "reversed");
        return f;
    }

    /** A line through {@code y} at x = 0, 1, 2, ... */
    public static Figure line(double[] y) {
        return new Figure().withLine(null, range(y.length), y);
    }

    public static Figure line(double[] x, double[] y) {
        return new Figure().withLine(null, x, y);
    }

    /** A line with a legend name. */
    public static Figure line(String name, double[] x, double[] y) {
        return new Figure().withLine(name, x, y);
    }

    public static Figure scatter(double[] x, double[] y) {
        return new Figure().withScatter(null, x, y);
    }

    /** Bars with category labels. */
    public static Figure bar(List<String> labels, double[] values) {
        return new Figure().withBar(null, labels, values);
    }

    // ---- more traces ------------------------------------------------------------------------------

    public Figure withLine(String name, double[] x, double[] y) {
        return xy("lines", name, x, y);
    }

    public Figure withScatter(String name, double[] x, double[] y) {
        return xy("markers", name, x, y);
    }

    public Figure withBar(String name, List<String> labels, double[] values) {
        if (labels.size() != values.length) {
            throw new LoupeException("bar: " + labels.size() + " labels but " + values.length + " values");
        }
        ObjectNode t = trace("bar");
        if (name != null) t.put("name", name);
        ArrayNode x = t.putArray("x");
        labels.forEach(x::add);
        t.set("y", vector(values));
        return this;
    }

    private Figure xy(String mode, String name, double[] x, double[] y) {
        if (x.length != y.length) {
            throw new LoupeException((mode.equals("lines") ? "line" : "scatter") + ": x has " + x.length
                    + " values but y has " + y.length);
        }
        ObjectNode t = trace("scatter");
        t.put("mode", mode);
        if (name != null) t.put("name", name);
        t.set("x", vector(x));
        t.set("y", vector(y));
        return this;
    }

    // ---- layout -----------------------------------------------------------------------------------

    public Figure title(String title) {
        layout.set("title", JSON.createObjectNode().put("text", title));
        return this;
    }

    public Figure xTitle(String title) {
        axis("xaxis").set("title", JSON.createObjectNode().put("text", title));
        return this;
    }

    public Figure yTitle(String title) {
        axis("yaxis").set("title", JSON.createObjectNode().put("text", title));
        return this;
    }

    /** Category labels of a heatmap's columns (shown at every column, duplicates allowed). */
    public Figure xLabels(List<String> labels) {
        ticks("xaxis", labels);
        return this;
    }

    /** Category labels of a heatmap's rows. */
    public Figure yLabels(List<String> labels) {
        ticks("yaxis", labels);
        return this;
    }

    /** Plotly colorscale name of every heatmap ("Viridis", "Blues", "RdBu", ...), instead of Loupe's. */
    public Figure colorscale(String name) {
        for (ObjectNode t : heatmaps()) t.put("colorscale", name).put("reversescale", false);
        return this;
    }

    /** Every heatmap on {@link #DIVERGING}, white at zero, from -maxAbs to +maxAbs (for signed values). */
    public Figure diverging(double maxAbs) {
        double m = maxAbs > 0 && Double.isFinite(maxAbs) ? maxAbs : 1;
        for (ObjectNode t : heatmaps()) {
            t.set("colorscale", scale(DIVERGING));
            t.put("zmin", -m).put("zmax", m).put("zmid", 0);
        }
        return this;
    }

    /** Every heatmap on {@link #SEQUENTIAL} from white at {@code min} to dark at {@code max} (0 and 1 for probabilities). */
    public Figure sequential(double min, double max) {
        double hi = max > min && Double.isFinite(max) ? max : min + 1;
        for (ObjectNode t : heatmaps()) {
            t.set("colorscale", scale(SEQUENTIAL));
            t.put("zmin", min).put("zmax", hi);
            t.remove("zmid");
        }
        return this;
    }

    /** Writes each heatmap cell's value in the cell, with a d3 format ({@code ".2f"}, {@code ".3g"}). */
    public Figure cellLabels(String d3Format) {
        for (ObjectNode t : heatmaps()) t.put("texttemplate", "%{z:" + d3Format + "}");
        return this;
    }

    /** Cell values with two decimals. */
    public Figure cellLabels() {
        return cellLabels(".2f");
    }

    public Figure height(int pixels) {
        if (pixels < 100) throw new LoupeException("figure height must be >= 100 px, got " + pixels);
        this.height = pixels;
        return this;
    }

    /**
     * The Plotly JSON of the figure ({"data": [...], "layout": {...}}), with what the defaults fill in:
     * trace names, heatmap hovers and integer ticks.
     */
    public String toJson() {
        ObjectNode fig = JSON.createObjectNode();
        ArrayNode traces = data.deepCopy();
        ObjectNode lay = layout.deepCopy();
        String xTitle = lay.path("xaxis").path("title").path("text").asText(""),
                yTitle = lay.path("yaxis").path("title").path("text").asText("");
        int series = 0;
        for (var node : traces) {
            ObjectNode t = (ObjectNode) node;
            if (t.path("type").asText().equals("heatmap")) {
                if (!t.has("hovertemplate"))
                    t.put(
                            "hovertemplate",
                            (yTitle.isEmpty() ? "row" : yTitle) + " %{y}, " + (xTitle.isEmpty() ? "column" : xTitle)
                                    + " %{x}<br>%{z:.4g}<extra></extra>");
                JsonNode z = t.path("z");
                integerTicks(lay, "xaxis", z.path(0).size());
                integerTicks(lay, "yaxis", z.size());
            } else if (!t.has("name")) {
                series++;
                t.put(
                        "name",
                        traces.size() == 1 && !yTitle.isEmpty()
                                ? yTitle
                                : traces.size() == 1 ? "y" : "series " + series);
            }
        }
        if (traces.size() == 1) lay.put("showlegend", false);
        fig.set("data", traces);
        fig.set("layout", lay);
        try {
            return JSON.writeValueAsString(fig);
        } catch (JsonProcessingException e) {
            throw new LoupeException("cannot write figure JSON: " + e.getMessage(), e);
        }
    }

    /** A div and the script drawing it; needs window.Plotly (the notebook renderer adds it once). */
    public String html() {
        return plotHtml(toJson(), height, "");
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("Figure(");
        for (int i = 0; i < data.size(); i++)
            s.append(i == 0 ? "" : ", ").append(data.get(i).path("type").asText());
        String title = layout.path("title").path("text").asText("");
        return s.append(title.isEmpty() ? "" : ", \"" + title + "\"")
                .append(")")
                .toString();
    }

    // ---- shared with the other views ---------------------------------------------------------------

    /**
     * The HTML of one Plotly plot: a div and an inline script that draws it, or, when plotly.js is
     * missing (its cell's output was cleared), says what to do instead of failing silently.
     */
    public static String plotHtml(String figureJson, int height, String extraScript) {
        String id = "loupe-plot-" + UUID.randomUUID();
        return "<div id=\"" + id + "\" class=\"loupe-plot\" style=\"width:100%;height:" + height + "px\"></div>\n"
                + "<script type=\"text/javascript\">(function(){\n"
                + "var el = document.getElementById('" + id + "');\n"
                + "if (!window.Plotly) { el.style.height = 'auto'; el.textContent = 'plotly.js is not loaded in this page:"
                + " re-run the notebook (the first figure of a kernel session loads it).'; return; }\n"
                + "var fig = " + scriptSafe(figureJson) + ";\n"
                + "window.Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});\n"
                + extraScript
                + "})();</script>\n";
    }

    /** JSON inside a script element must not contain "</" (it would end the element). */
    public static String scriptSafe(String json) {
        return json.replace("</", "<\\/");
    }

    private List<ObjectNode> heatmaps() {
        List<ObjectNode> h = new java.util.ArrayList<>();
        for (var t : data) if ("heatmap".equals(t.path("type").asText())) h.add((ObjectNode) t);
        return h;
    }

    /** {@link #SEQUENTIAL} as a Plotly colorscale, for views that build their own traces. */
    public static ArrayNode sequentialScale() {
        return scale(SEQUENTIAL);
    }

    /** A Plotly colorscale: the colours evenly spaced from 0 to 1. */
    static ArrayNode scale(List<String> colours) {
        ArrayNode a = JSON.createArrayNode();
        for (int i = 0; i < colours.size(); i++)
            a.addArray().add((double) i / (colours.size() - 1)).add(colours.get(i));
        return a;
    }

    /** An axis of n cells without labels gets ticks at integers, every 1, 2, 5, 10, ... so at most 20 show. */
    private static void integerTicks(ObjectNode layout, String name, int n) {
        ObjectNode axis = layout.has(name) ? (ObjectNode) layout.get(name) : layout.putObject(name);
        if (axis.has("tickvals") || axis.has("dtick")) return;
        long step = 1;
        for (long base = 1; (n + step - 1) / step > 20; base *= 10) {
            for (long m : new long[] {1, 2, 5}) {
                step = base * m;
                if ((n + step - 1) / step <= 20) break;
            }
        }
        axis.put("tickmode", "linear").put("tick0", 0).put("dtick", step).put("zeroline", false);
    }

    private ObjectNode trace(String type) {
        ObjectNode t = data.addObject();
        t.put("type", type);
        return t;
    }

    private ObjectNode axis(String name) {
        return layout.has(name) ? (ObjectNode) layout.get(name) : layout.putObject(name);
    }

    private void ticks(String axisName, List<String> labels) {
        ObjectNode axis = axis(axisName);
        ArrayNode vals = axis.putArray("tickvals");
        ArrayNode text = axis.putArray("ticktext");
        for (int i = 0; i < labels.size(); i++) {
            vals.add(i);
            text.add(labels.get(i));
        }
        axis.put("tickmode", "array");
    }

    public static ArrayNode vector(double[] v) {
        ArrayNode a = JSON.createArrayNode();
        for (double d : v) {
            if (Double.isFinite(d)) a.add(d);
            else a.addNull(); // JSON has no NaN: Plotly leaves a gap
        }
        return a;
    }

    public static ArrayNode matrix(double[][] z) {
        ArrayNode a = JSON.createArrayNode();
        for (double[] row : z) a.add(vector(row));
        return a;
    }

    public static double[] range(int n) {
        double[] r = new double[n];
        for (int i = 0; i < n; i++) r[i] = i;
        return r;
    }

    public static void checkMatrix(String what, double[][] z) {
        if (z.length == 0 || z[0].length == 0) throw new LoupeException(what + ": empty matrix");
        for (int i = 1; i < z.length; i++) {
            if (z[i].length != z[0].length) {
                throw new LoupeException(
                        what + ": row " + i + " has " + z[i].length + " values, row 0 has " + z[0].length);
            }
        }
    }
}
