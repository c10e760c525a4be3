package dev.loupe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.viz.Figure;
import dev.loupe.viz.PlotlyJs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The page check catches what it should (so that the notebook test can fail), and plotly loads with require.js. */
class HtmlPageCheckTest {

    static final String REQUIRE_JS = "file:///usr/share/javascript/requirejs/require.min.js";

    @Test
    void plotlyDrawsWithRequireJsOnThePageAndTheCheckSeesFailures(@TempDir Path tmp) throws IOException {
        String chromium = JupyterTools.chromium();
        JupyterTools.require(chromium != null, "chromium");
        boolean haveRequire = Files.exists(Path.of(REQUIRE_JS.substring("file://".length())));
        JupyterTools.require(haveRequire, "require.js (Debian libjs-requirejs, installed with jupyter-notebook)");

        // As nbconvert's export: require.js first, then the bundle and figures inline.
        Path good = tmp.resolve("good.html");
        // No charset: the bundle is ASCII, so it means the same whatever encoding the page is read with.
        Files.writeString(
                good,
                "<html><head><script src=\"" + REQUIRE_JS + "\"></script></head><body>"
                        + PlotlyJs.scriptTag()
                        + Figure.heatmap(new double[][] {{1, 2}, {3, 4}}).html()
                        + Figure.line(new double[] {1, 3, 2}).html() + "</body></html>");
        HtmlPageCheck.Report ok = HtmlPageCheck.check(chromium, good, tmp);
        assertEquals(2, ok.plots());
        assertTrue(ok.ok(), ok.toString());

        // The bundle as a plain <script> under require.js: require.js rejects its anonymous define and
        // window.Plotly never appears. The check must report both the error and the undrawn figure.
        Path bad = tmp.resolve("bad.html");
        String plain = PlotlyJs.scriptTag().replace("(function(define, module, exports){", "(function(){");
        Files.writeString(
                bad,
                "<html><head><meta charset=\"utf-8\"><script src=\"" + REQUIRE_JS + "\"></script></head><body>"
                        + plain + Figure.heatmap(new double[][] {{1}}).html()
                        + "<script>undefinedFunctionCall();</script></body></html>");
        HtmlPageCheck.Report report = HtmlPageCheck.check(chromium, bad, tmp);
        assertEquals(1, report.plotsWithoutSvg().size(), report.toString());
        assertFalse(report.jsErrors().isEmpty(), report.toString());
        assertTrue(report.jsErrors().get(0).contains("undefinedFunctionCall"), report.toString());
    }
}
