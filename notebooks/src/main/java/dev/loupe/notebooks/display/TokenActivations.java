package dev.loupe.notebooks.display;

import dev.loupe.engine.LoupeException;
import dev.loupe.viz.TableHtml;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * Text coloured by a value per token, as CircuitsVis's colored tokens: red for positive, blue for
 * negative, stronger for larger magnitude (scaled by the largest magnitude in the view), the value
 * on hover. With several rows (neurons, features, heads) a menu picks the row.
 */
public final class TokenActivations {

    private final List<String> tokens;
    private final List<String> rowNames;
    private final double[][] values; // [row][pos]

    private TokenActivations(List<String> tokens, List<String> rowNames, double[][] values) {
        this.tokens = List.copyOf(tokens);
        this.rowNames = List.copyOf(rowNames);
        this.values = values;
    }

    public static TokenActivations of(List<String> tokens, double[] values) {
        return of(tokens, new double[][] {values}, List.of("value"));
    }

    /** One row per name; each row has one value per token. */
    public static TokenActivations of(List<String> tokens, double[][] values, List<String> rowNames) {
        if (values.length == 0) throw new LoupeException("tokenActivations: no rows of values");
        if (rowNames.size() != values.length) {
            throw new LoupeException(
                    "tokenActivations: " + rowNames.size() + " row names for " + values.length + " rows");
        }
        for (int r = 0; r < values.length; r++) {
            if (values[r].length != tokens.size()) {
                throw new LoupeException("tokenActivations: row '" + rowNames.get(r) + "' has " + values[r].length
                        + " values for " + tokens.size() + " tokens");
            }
        }
        return new TokenActivations(tokens, rowNames, values);
    }

    public String html() {
        double maxAbs = 0;
        for (double[] row : values) for (double v : row) if (Double.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
        double scale = maxAbs == 0 ? 1 : maxAbs;
        String id = "loupe-tokens-" + UUID.randomUUID();
        StringBuilder h = new StringBuilder();
        h.append("<div id=\"")
                .append(id)
                .append("\" class=\"loupe-token-activations\" style=\"font-family:monospace;line-height:2\">\n");
        if (values.length > 1) {
            h.append("<div><label>row: <select onchange=\"var rows=document.getElementById('")
                    .append(id)
                    .append(
                            "').querySelectorAll('.loupe-token-row');for(var i=0;i<rows.length;i++){rows[i].style.display=(String(i)===this.value)?'block':'none';}\">");
            for (int r = 0; r < values.length; r++) {
                h.append("<option value=\"")
                        .append(r)
                        .append("\">")
                        .append(TableHtml.escape(rowNames.get(r)))
                        .append("</option>");
            }
            h.append("</select></label></div>\n");
        }
        h.append(
                        "<div style=\"font-size:smaller;color:#555\">colour scale: <span style=\"background:rgba(37,99,235,1);color:white;padding:0 4px\">")
                .append(format(-scale))
                .append("</span> 0 <span style=\"background:rgba(220,38,38,1);color:white;padding:0 4px\">")
                .append(format(scale))
                .append("</span></div>\n");
        for (int r = 0; r < values.length; r++) {
            h.append("<div class=\"loupe-token-row\" data-row=\"")
                    .append(TableHtml.escape(rowNames.get(r)))
                    .append("\" style=\"display:")
                    .append(r == 0 ? "block" : "none")
                    .append("\">");
            for (int p = 0; p < tokens.size(); p++) {
                double v = values[r][p];
                double a = Double.isFinite(v) ? Math.min(1, Math.abs(v) / scale) : 0;
                String rgb = v >= 0 ? "220,38,38" : "37,99,235";
                h.append("<span title=\"")
                        .append(TableHtml.escape(
                                rowNames.get(r) + " | position " + p + " " + quoted(tokens.get(p)) + ": " + format(v)))
                        .append("\" style=\"background:rgba(")
                        .append(rgb)
                        .append(',')
                        .append(String.format(Locale.ROOT, "%.3f", a))
                        .append(");padding:1px 2px;margin:0 1px;border-radius:2px;white-space:pre\">")
                        .append(TableHtml.escape(tokens.get(p)))
                        .append("</span>");
            }
            h.append("</div>\n");
        }
        return h.append("</div>\n").toString();
    }

    private static String quoted(String token) {
        return "'" + token + "'";
    }

    static String format(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        for (int p = 0; p < tokens.size(); p++)
            s.append(tokens.get(p)).append('(').append(format(values[0][p])).append(") ");
        return s.toString().trim();
    }
}
