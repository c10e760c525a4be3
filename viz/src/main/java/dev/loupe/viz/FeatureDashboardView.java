package dev.loupe.viz;

import dev.loupe.saes.dashboard.FeatureDashboard;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Feature dashboards (sae_vis style) as HTML: per feature a header (density, largest and mean
 * activation), the activation histogram, the top-activating contexts and examples from each activation
 * interval as tokens shaded by the feature's activation (hover for the value; the activating token is
 * underlined), and the tokens whose logits the feature's decoder direction raises and lowers. In a
 * notebook {@code display(FeatureDashboardView.of(dashboards))}; {@link #page} is a static page that
 * works offline (plotly.js inlined).
 */
public final class FeatureDashboardView {
    private final List<FeatureDashboard> dashboards;

    private FeatureDashboardView(List<FeatureDashboard> dashboards) {
        this.dashboards = List.copyOf(dashboards);
    }

    public static FeatureDashboardView of(List<FeatureDashboard> dashboards) {
        return new FeatureDashboardView(dashboards);
    }

    public static FeatureDashboardView of(FeatureDashboard dashboard) {
        return new FeatureDashboardView(List.of(dashboard));
    }

    /** The histogram of one feature's nonzero activations. */
    public static Figure histogram(FeatureDashboard d) {
        long[] counts = d.histogram().counts();
        double[] edges = d.histogram().edges(), values = new double[counts.length];
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < counts.length; i++) {
            values[i] = counts[i];
            labels.add(String.format(Locale.ROOT, "%.3g", (edges[i] + edges[i + 1]) / 2));
        }
        return Figure.bar(labels, values)
                .title("feature " + d.feature() + ": activations where it fires")
                .xTitle("activation")
                .yTitle("rows")
                .height(260);
    }

    /** A histogram of log10 feature density over latents (SAELens's feature density plot); dead latents at -10. */
    public static Figure densityHistogram(double[] density, int bins) {
        double lo = -10, hi = 0;
        long[] counts = new long[bins];
        for (double d : density) {
            double l = Math.log10(d + 1e-10);
            counts[Math.max(0, Math.min(bins - 1, (int) ((l - lo) / (hi - lo) * bins)))]++;
        }
        List<String> labels = new ArrayList<>();
        double[] values = new double[bins];
        for (int i = 0; i < bins; i++) {
            labels.add(String.format(Locale.ROOT, "%.1f", lo + (i + 0.5) * (hi - lo) / bins));
            values[i] = counts[i];
        }
        return Figure.bar(labels, values)
                .title("feature density (log10 of the fraction of tokens a latent fires on)")
                .xTitle("log10 density")
                .yTitle("latents")
                .height(300);
    }

    /** The dashboards as an HTML fragment (figures need plotly.js on the page: the notebook adds it). */
    public String html() {
        StringBuilder h =
                new StringBuilder("<div class=\"loupe-feature-dashboards\" style=\"font-family:sans-serif\">\n");
        for (FeatureDashboard d : dashboards) feature(h, d);
        return h.append("</div>\n").toString();
    }

    /** A complete, offline HTML page with these dashboards. */
    public String page(String title) {
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + TableHtml.escape(title) + "</title>\n"
                + PlotlyJs.scriptTag() + "</head><body>\n<h1>" + TableHtml.escape(title) + "</h1>\n" + html()
                + "</body></html>\n";
    }

    private static void feature(StringBuilder h, FeatureDashboard d) {
        h.append("<div style=\"border:1px solid #ccc;border-radius:6px;padding:10px;margin:10px 0\">\n");
        h.append(String.format(
                Locale.ROOT,
                "<h3 style=\"margin:0 0 6px 0\">Feature %d</h3><div>fires on %.3g%% of %,d rows; largest"
                        + " activation %.3g, mean where it fires %.3g</div>\n",
                d.feature(),
                100 * d.density(),
                d.rowsSeen(),
                d.maxActivation(),
                d.meanActivation()));
        if (d.density() == 0) {
            h.append("<div><i>dead: it never fired on these rows</i></div></div>\n");
            return;
        }
        h.append("<div style=\"display:flex;gap:16px;align-items:flex-start\"><div style=\"flex:2\">");
        h.append(histogram(d).html());
        h.append("</div><div style=\"flex:1\">");
        if (!d.topLogits().isEmpty()) {
            effects(h, "raises the logits of", d.topLogits(), "#e6f4ea");
            effects(h, "lowers the logits of", d.bottomLogits(), "#fde8e8");
        }
        h.append("</div></div>\n<h4 style=\"margin:8px 0 4px 0\">Top activations</h4>\n");
        for (FeatureDashboard.Example e : d.topExamples()) example(h, e, d.maxActivation());
        for (FeatureDashboard.Interval q : d.quantiles()) {
            if (q.examples().isEmpty()) continue;
            h.append(String.format(
                    Locale.ROOT,
                    "<h4 style=\"margin:8px 0 4px 0\">Activations in [%.3g, %.3g): about %,d rows</h4>\n",
                    q.low(),
                    q.high(),
                    q.count()));
            for (FeatureDashboard.Example e : q.examples()) example(h, e, d.maxActivation());
        }
        h.append("</div>\n");
    }

    private static void effects(StringBuilder h, String title, List<FeatureDashboard.TokenEffect> list, String colour) {
        h.append("<div style=\"font-size:90%\"><b>").append(title).append("</b><table>");
        for (FeatureDashboard.TokenEffect t : list)
            h.append(String.format(
                    Locale.ROOT,
                    "<tr><td style=\"background:%s;font-family:monospace\">%s</td><td>%+.3f</td></tr>",
                    colour,
                    TableHtml.escape(visible(t.text())),
                    t.value()));
        h.append("</table></div>\n");
    }

    /** One context: tokens shaded by activation relative to the feature's largest, the activating token underlined. */
    private static void example(StringBuilder h, FeatureDashboard.Example e, double max) {
        h.append(String.format(
                Locale.ROOT,
                "<div style=\"font-family:monospace;line-height:1.9;white-space:pre-wrap\"><span style=\"color:#888\">%.3g"
                        + " </span>",
                e.activation()));
        for (int i = 0; i < e.tokens().size(); i++) {
            double a = max > 0 ? Math.max(0, e.activations()[i]) / max : 0;
            h.append(String.format(
                    Locale.ROOT,
                    "<span title=\"%s\" style=\"background:rgba(255,80,0,%.2f);%s\">%s</span>",
                    String.format(Locale.ROOT, "%.4g", e.activations()[i]),
                    a,
                    i == e.focus() ? "text-decoration:underline;font-weight:bold" : "",
                    TableHtml.escape(visible(e.tokens().get(i)))));
        }
        h.append(String.format(
                Locale.ROOT,
                "<span style=\"color:#888\">  (sequence %d, position %d)</span></div>\n",
                e.sequence(),
                e.position()));
    }

    /** Token text with whitespace made visible (a token that is a newline or spaces still shows). */
    private static String visible(String token) {
        return token.replace("\n", "\u21b5").replace(" ", "\u00b7");
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        for (FeatureDashboard d : dashboards) {
            s.append(String.format(
                    Locale.ROOT, "feature %d: density %.4g, max %.4g%n", d.feature(), d.density(), d.maxActivation()));
            for (FeatureDashboard.Example e : d.topExamples())
                s.append(String.format(Locale.ROOT, "  %.4g  %s%n", e.activation(), String.join(" ", e.tokens())));
        }
        return s.toString();
    }
}
