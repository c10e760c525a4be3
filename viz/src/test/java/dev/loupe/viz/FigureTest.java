package dev.loupe.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;

/** Figures and tables read like a paper's: white zero, integer axes, named traces, rounded numbers. */
class FigureTest {

    private static JsonNode json(Figure f) throws Exception {
        return Json.mapper().readTree(f.toJson());
    }

    @Test
    void tracesLabelsAndBadInput() throws Exception {
        Figure f = Figure.heatmap(new double[][] {{1, Double.NaN}, {3, 4}})
                .title("t")
                .xLabels(List.of("a", "a"));
        JsonNode j = json(f);
        assertEquals("heatmap", j.at("/data/0/type").asText());
        assertTrue(j.at("/data/0/z/0/1").isNull(), "NaN must become null");
        assertEquals("a", j.at("/layout/xaxis/ticktext/1").asText());
        assertFalse(j.at("/layout/xaxis").has("dtick"), "labelled axes keep their labels");
        JsonNode l = json(Figure.line(new double[] {1, 2}).withScatter("s", new double[] {0, 1}, new double[] {5, 6}));
        assertEquals("lines", l.at("/data/0/mode").asText());
        assertEquals("markers", l.at("/data/1/mode").asText());
        assertThrows(LoupeException.class, () -> Figure.bar(List.of("a"), new double[] {1, 2}));
        assertThrows(LoupeException.class, () -> Figure.heatmap(new double[][] {{1, 2}, {3}}));
        assertTrue(Figure.bar(List.of("</script>"), new double[] {1}).html().contains("<\\/script>"));
    }

    @Test
    void signedValuesAreDivergingAndNonNegativeOnesSequentialBothWhiteAtZero() throws Exception {
        JsonNode signed = json(Figure.heatmap(new double[][] {{-2, 1}, {0.5, 0}}));
        assertEquals(-2, signed.at("/data/0/zmin").asDouble());
        assertEquals(2, signed.at("/data/0/zmax").asDouble());
        JsonNode scale = signed.at("/data/0/colorscale");
        assertEquals(0.5, scale.get(scale.size() / 2).get(0).asDouble(), 1e-12);
        assertEquals("#ffffff", scale.get(scale.size() / 2).get(1).asText(), "zero is white");

        JsonNode scores = json(Figure.heatmap(new double[][] {{0, 0.9}, {0.2, 0.1}}));
        assertEquals(0, scores.at("/data/0/zmin").asDouble());
        assertEquals("#ffffff", scores.at("/data/0/colorscale/0/1").asText(), "zero is white");
        assertEquals(0.9, scores.at("/data/0/zmax").asDouble());
        JsonNode probabilities = json(Figure.heatmap(new double[][] {{0.5}}).sequential(0, 1));
        assertEquals(1, probabilities.at("/data/0/zmax").asDouble());
    }

    @Test
    void heatmapAxesAreIntegersWithValuesOnHoverAndOptionalCellLabels() throws Exception {
        JsonNode heads = json(
                Figure.heatmap(new double[2][4]).xTitle("head").yTitle("layer").cellLabels());
        for (String axis : List.of("xaxis", "yaxis")) {
            assertEquals("linear", heads.at("/layout/" + axis + "/tickmode").asText());
            assertEquals(0, heads.at("/layout/" + axis + "/tick0").asInt());
            assertEquals(1, heads.at("/layout/" + axis + "/dtick").asInt(), "every layer and head labelled");
        }
        assertEquals(
                "layer %{y}, head %{x}<br>%{z:.4g}<extra></extra>",
                heads.at("/data/0/hovertemplate").asText());
        assertEquals("%{z:.2f}", heads.at("/data/0/texttemplate").asText());
        JsonNode positions = json(Figure.heatmap(new double[3][45]));
        assertEquals(5, positions.at("/layout/xaxis/dtick").asInt(), "45 columns: a tick every 5");
        assertEquals(1, positions.at("/layout/yaxis/dtick").asInt());
        assertEquals(
                50,
                json(Figure.heatmap(new double[1][700]))
                        .at("/layout/xaxis/dtick")
                        .asInt());
    }

    @Test
    void everyTraceHasAName() throws Exception {
        JsonNode one = json(Figure.line(new double[] {1, 2}).yTitle("loss"));
        assertEquals("loss", one.at("/data/0/name").asText());
        assertFalse(one.at("/layout/showlegend").asBoolean(true), "one trace: no legend");
        JsonNode two = json(Figure.line(new double[] {1, 2}).withLine(null, new double[] {0, 1}, new double[] {3, 4}));
        assertEquals("series 1", two.at("/data/0/name").asText());
        assertEquals("series 2", two.at("/data/1/name").asText());
        assertTrue(Figure.line(new double[] {1}).toJson().contains("\"name\":\"y\""));
    }

    @Test
    void tablesShowFourSignificantDigitsAndKeepTheFullValueOnHover() {
        assertEquals("0.1235", TableHtml.significant(0.123456789, 4));
        assertEquals("2.314", TableHtml.significant(2.3141592, 4));
        assertEquals("123457", TableHtml.significant(123456.789, 4));
        assertEquals("0.5", TableHtml.significant(0.5, 4));
        assertEquals("-0.001", TableHtml.significant(-0.001, 4));
        assertEquals("1.235e-07", TableHtml.significant(1.23456e-7, 4));
        assertEquals("0", TableHtml.significant(0, 4));
        Table t = Table.create(
                "scores", IntColumn.create("layer", 0, 1), DoubleColumn.create("induction", 0.948123456789, 0.1));
        String html = TableHtml.of(t);
        assertTrue(html.contains("title=\"0.948123456789\">0.9481</td>"), html);
        assertTrue(html.contains("<td>1</td>"), "integers stay as they are: " + html);
        assertFalse(html.contains(">0.948123456789<"), "the cell shows the rounded value: " + html);
    }

    @Test
    void theBundledPlotlyIsTheMinifiedOneItsPropertiesName() throws Exception {
        byte[] bundle;
        try (InputStream in = PlotlyJs.class.getResourceAsStream(PlotlyJs.BUNDLE)) {
            bundle = in.readAllBytes();
        }
        String sha =
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bundle));
        assertEquals(PlotlyJs.properties().getProperty("sha256"), sha);
        assertTrue(bundle.length < 5_000_000, "minified: " + bundle.length + " bytes");
        assertTrue(new String(bundle, 0, 200).contains("plotly.js v" + PlotlyJs.version()));
    }
}
