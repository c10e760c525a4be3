package dev.loupe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.viz.PlotlyJs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every notebook in notebooks/ runs top to bottom with the Loupe kernel (nbconvert --execute, as a
 * user's "Run all"), and its HTML export shows every Plotly figure with no JavaScript error.
 */
class NotebooksTest {

    static final int CELL_TIMEOUT_S = 180;

    /**
     * Notebooks that state what the reader should see with {@code check(...)}, and how many such claims
     * each must print as {@code check: ...: ok} (a failed claim fails its cell).
     */
    static final Map<String, Integer> CLAIMS = Map.of("03-activation-patching", 10);

    static final int STARTUP_TIMEOUT_S = 90;

    static List<Path> notebooks() throws IOException {
        try (Stream<Path> s = Files.list(JupyterTools.MODULE)) {
            return s.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
        }
    }

    @Test
    void notebooksAreCommittedWithoutOutputs() throws IOException {
        List<Path> nbs = notebooks();
        assertTrue(
                nbs.stream().anyMatch(p -> p.getFileName().toString().equals("00-quickstart.ipynb")),
                "quickstart missing");
        for (Path nb : nbs) {
            JsonNode root = new ObjectMapper().readTree(nb.toFile());
            assertEquals(
                    "loupe",
                    root.path("metadata").path("kernelspec").path("name").asText(),
                    nb + ": kernel");
            for (JsonNode cell : root.path("cells")) {
                if (!"code".equals(cell.path("cell_type").asText())) continue;
                assertEquals(0, cell.path("outputs").size(), nb + ": commit notebooks without outputs");
                assertTrue(cell.path("execution_count").isNull(), nb + ": commit notebooks without execution counts");
            }
        }
    }

    /** The tick labels of every drawn heatmap (Plotly draws a heatmap as an image in a g.hm). */
    static List<String> heatmapTicks(String dom) {
        List<String> ticks = new java.util.ArrayList<>();
        String[] plots = dom.split("<div id=\"loupe-plot-");
        for (int i = 1; i < plots.length; i++) {
            if (!plots[i].contains("<g class=\"hm\">")) continue;
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                            "<g class=\"[xy]tick\"><text[^>]*>([^<]*)</text>")
                    .matcher(plots[i]);
            while (m.find()) ticks.add(m.group(1));
        }
        return ticks;
    }

    @Test
    void everyNotebookRunsAndItsHtmlRenders(@TempDir Path tmp) throws IOException {
        JupyterTools.requireJupyter();
        String chromium = JupyterTools.chromium();
        JupyterTools.require(chromium != null, "chromium");
        Path jupyterPath = JupyterTools.kernelSpecDir(tmp, Map.of());
        Map<String, String> env = Map.of("JUPYTER_PATH", jupyterPath.toString());
        String only = System.getProperty(
                "loupe.notebook", ""); // -Dloupe.notebook=03: just the notebooks whose name contains it
        for (Path nb : notebooks()) {
            if (!nb.getFileName().toString().contains(only)) continue;
            String name = nb.getFileName().toString().replace(".ipynb", "");
            long t0 = System.nanoTime();
            JupyterTools.Result exec = JupyterTools.run(
                    List.of(
                            "jupyter",
                            "nbconvert",
                            "--to",
                            "notebook",
                            "--execute",
                            "--ExecutePreprocessor.kernel_name=loupe",
                            "--ExecutePreprocessor.timeout=" + CELL_TIMEOUT_S,
                            "--ExecutePreprocessor.startup_timeout=" + STARTUP_TIMEOUT_S,
                            "--output-dir=" + tmp,
                            "--output=" + name + ".executed",
                            nb.toString()),
                    env,
                    900);
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(0, exec.exitCode(), nb + " failed to execute:\n" + exec.output());
            System.out.printf("notebook %s executed in %.1f s%n", name, seconds);
            Path executed = tmp.resolve(name + ".executed.ipynb");
            JsonNode root = new ObjectMapper().readTree(executed.toFile());
            int claims = 0;
            for (JsonNode cell : root.path("cells")) {
                for (JsonNode out : cell.path("outputs")) {
                    assertFalse("error".equals(out.path("output_type").asText()), nb + ": a cell failed: " + out);
                    if (!"stream".equals(out.path("output_type").asText())) continue;
                    JsonNode text = out.path("text");
                    StringBuilder all = new StringBuilder();
                    if (text.isArray()) text.forEach(t -> all.append(t.asText()));
                    else all.append(text.asText());
                    for (String line : all.toString().split("\n"))
                        if (line.startsWith("check: ")) {
                            assertTrue(line.endsWith(": ok"), nb + ": " + line);
                            claims++;
                        }
                }
            }
            assertTrue(
                    claims >= CLAIMS.getOrDefault(name, 0),
                    nb + ": " + claims + " claims checked, expected at least " + CLAIMS.getOrDefault(name, 0));
            JupyterTools.Result html = JupyterTools.run(
                    List.of(
                            "jupyter",
                            "nbconvert",
                            "--to",
                            "html",
                            "--output-dir=" + tmp,
                            "--output=" + name,
                            executed.toString()),
                    env,
                    300);
            assertEquals(0, html.exitCode(), nb + ": HTML export failed:\n" + html.output());
            HtmlPageCheck.Report report = HtmlPageCheck.check(chromium, tmp.resolve(name + ".html"), tmp);
            assertTrue(
                    report.plots() > 0 || !Files.readString(nb).contains("display("),
                    nb + ": no plots found in the HTML");
            assertTrue(
                    report.ok(),
                    nb + ": figures without SVG " + report.plotsWithoutSvg() + ", JavaScript errors "
                            + report.jsErrors());
            Path page = tmp.resolve(name + ".html");
            String text = Files.readString(page);
            assertEquals(
                    1,
                    text.split(java.util.regex.Pattern.quote("plotly.js v" + PlotlyJs.version()), -1).length - 1,
                    nb + ": plotly.js must be embedded exactly once");
            assertTrue(Files.size(page) < 6_000_000, nb + ": exported HTML is " + Files.size(page) + " bytes");
            for (String ticks : heatmapTicks(report.dom()))
                assertTrue(ticks.matches("-?\\d+|[^0-9.-].*|"), nb + ": a heatmap tick is not an integer: " + ticks);
            System.out.printf(
                    "notebook %s: %d Plotly figures rendered in Chromium, HTML %.1f MB%n",
                    name, report.plots(), Files.size(page) / 1e6);
            if (name.equals("01-induction-heads"))
                assertTrue(
                        root.toString().contains("\"text/markdown\":\"# attn-only-2l")
                                || root.toString().contains("\"text/markdown\":[\"# attn-only-2l"),
                        nb + ": the model card must be shown as Markdown");
        }
    }
}
