package dev.loupe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.notebooks.display.AttentionView;
import dev.loupe.viz.Figure;
import dev.loupe.viz.PlotlyJs;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The displays as a reader sees them, drawn by headless Chromium: the attention viewer's zero weights
 * are white pixels (and a weight of 1 dark), and a layer x head heatmap's ticks are the integers.
 */
class DisplayScreenshotTest {

    @Test
    void attentionZerosAreWhiteAndHeadHeatmapTicksAreIntegers(@TempDir Path tmp) throws Exception {
        String chromium = JupyterTools.chromium();
        JupyterTools.require(chromium != null, "chromium");
        int n = 6;
        double[][] causal = new double[n][n]; // row q attends uniformly to keys 0..q: zero above the diagonal
        for (int q = 0; q < n; q++) for (int k = 0; k <= q; k++) causal[q][k] = 1.0 / (q + 1);
        List<String> tokens = List.of("BOS", "a", "b", "c", "a", "b");
        String attention =
                AttentionView.of(Nd4j.create(new double[][][] {causal}), tokens).html();
        String heads = Figure.heatmap(new double[][] {{0.1, 0.9, 0.2, 0.0}, {0.3, 0.05, 0.6, 0.4}})
                .title("induction score")
                .xTitle("head")
                .yTitle("layer")
                .html();
        Path page = tmp.resolve("displays.html");
        Files.writeString(
                page,
                "<html><head><meta charset=\"utf-8\"><style>body{margin:0}</style></head><body>"
                        + PlotlyJs.scriptTag() + "<div style=\"width:600px\">" + attention + "</div>"
                        + "<div style=\"width:600px\">" + heads + "</div></body></html>");

        HtmlPageCheck.Report report = HtmlPageCheck.check(chromium, page, tmp);
        assertTrue(report.ok() && report.plots() == 2, report.toString());
        String dom = report.dom();

        // The attention plot is first on the page, at its top left. Its plot area starts at the drag
        // rectangle's corner; the heatmap is an image inside it (narrower: the cells are kept square).
        Matcher area = Pattern.compile("<rect class=\"nsewdrag drag\"[^>]*? x=\"([0-9.]+)\" y=\"([0-9.]+)\"")
                .matcher(dom);
        Matcher image = Pattern.compile(
                        "<g class=\"hm\"><image [^>]*?height=\"([0-9.]+)\" width=\"([0-9.]+)\" x=\"([0-9.-]+)\" y=\"([0-9.-]+)\"")
                .matcher(dom);
        assertTrue(area.find() && image.find(), "no heatmap in the rendered page");
        double x0 = Double.parseDouble(area.group(1)) + Double.parseDouble(image.group(3));
        double y0 = Double.parseDouble(area.group(2)) + Double.parseDouble(image.group(4));
        double w = Double.parseDouble(image.group(2)), h = Double.parseDouble(image.group(1));
        BufferedImage png = ImageIO.read(
                HtmlPageCheck.screenshot(chromium, page, tmp, 600, 1400).toFile());
        for (int q = 0; q < n; q++) {
            for (int k = 0; k < n; k++) {
                int rgb = png.getRGB((int) (x0 + (k + 0.5) * w / n), (int) (y0 + (q + 0.5) * h / n));
                int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
                String at = "cell q=" + q + " k=" + k + " rgb(" + r + "," + g + "," + b + ")";
                if (k > q) assertTrue(r >= 250 && g >= 250 && b >= 250, "a zero weight must be white: " + at);
                if (q == 0 && k == 0) assertTrue(r < 60 && g < 90 && b > 80, "a weight of 1 must be dark blue: " + at);
            }
        }

        // The head heatmap: ticks 0..3 for heads and 0, 1 for layers, nothing fractional.
        String second = dom.substring(dom.indexOf("<div id=\"loupe-plot-", dom.indexOf("<div id=\"loupe-plot-") + 1));
        assertEquals(List.of("0", "1", "2", "3"), ticks(second, "xtick"));
        assertEquals(List.of("0", "1"), ticks(second, "ytick"));
    }

    private static List<String> ticks(String dom, String axis) {
        List<String> t = new ArrayList<>();
        Matcher m = Pattern.compile("<g class=\"" + axis + "\"><text[^>]*>([^<]*)</text>")
                .matcher(dom);
        while (m.find()) t.add(m.group(1));
        t.sort(null); // the y axis runs top to bottom
        return t;
    }
}
