package dev.loupe.notebooks.display;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.notebooks.Notebook;
import dev.loupe.viz.PlotlyJs;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

class DisplaysTest {

    @Test
    void markdownIsShownAsMarkdown() {
        Markdown md = Notebook.markdown("# attn-only-2l\n\n| metric | value |\n|---|---|");
        assertEquals("# attn-only-2l\n\n| metric | value |\n|---|---|", md.text());
        assertThrows(LoupeException.class, () -> Notebook.markdown(null));
    }

    @Test
    void plotlyBundleIsWrappedForRequireJs() {
        String tag = PlotlyJs.scriptTag();
        assertTrue(tag.startsWith("<script type=\"text/javascript\">(function(define, module, exports){"));
        assertTrue(tag.contains("plotly.js v" + PlotlyJs.version()));
        assertTrue(tag.chars().allMatch(c -> c < 0x80), "bundle must be ASCII");
        PlotlyJs.reset();
        assertEquals(tag, PlotlyJs.scriptTagOnce());
        assertEquals("", PlotlyJs.scriptTagOnce());
    }

    @Test
    void attentionViewFromACacheHasAMenuOfHeads() throws Exception {
        ModelConfig cfg = ModelConfig.builder()
                .dModel(16)
                .nLayers(2)
                .nHeads(2)
                .dVocab(20)
                .nCtx(16)
                .attnOnly(true)
                .build();
        HookedTransformer model = HookedTransformer.random(cfg, 1);
        int[] ids = {1, 2, 3, 2};
        try (ForwardResult r = model.runWithCache(Tokens.of(ids), ActivationFilter.all())) {
            AttentionView one = Notebook.attention(r.cache(), 1, ids);
            assertEquals(List.of("L1H0", "L1H1"), one.heads());
            AttentionView all =
                    Notebook.attention(r.cache(), Notebook.tokenStrings(ids)).show("L1H1");
            assertEquals(4, all.heads().size());
            String html = all.html();
            assertTrue(html.contains("\"label\":\"L0H0\"") && html.contains("attention L1H1"), html);
            assertTrue(
                    html.contains("\"zmin\":0,\"zmax\":1,\"colorscale\":[[0.0,\"#ffffff\"]"), "white at zero: " + html);
            LoupeException wrongTokens =
                    assertThrows(LoupeException.class, () -> Notebook.attention(r.cache(), 0, List.of("a", "b")));
            assertTrue(wrongTokens.getMessage().contains("2 token strings")
                    && wrongTokens.getMessage().contains("4 positions"));
            LoupeException noLayer = assertThrows(LoupeException.class, () -> Notebook.attention(r.cache(), 5, ids));
            assertTrue(noLayer.getMessage().contains("blocks.5.attn.hook_pattern"), noLayer.getMessage());
        }
        assertThrows(LoupeException.class, () -> AttentionView.of(Nd4j.zeros(2, 3), List.of("a", "b")));
    }

    @Test
    void tokenActivationsColourAndEscape() {
        String html =
                TokenActivations.of(List.of("<b>", "x"), new double[] {-2, 1}).html();
        assertTrue(html.contains("&lt;b&gt;"), html);
        assertTrue(html.contains("rgba(37,99,235,1.000)"), "most negative is full blue: " + html);
        assertTrue(html.contains("rgba(220,38,38,0.500)"), "half the max is half red: " + html);
        String rows = Notebook.tokenActivations(List.of("a", "b"), Nd4j.create(new double[][] {{1, 2}, {3, 4}}))
                .html();
        assertTrue(rows.contains("<select") && rows.contains("<option value=\"1\">1</option>"), rows);
        assertThrows(LoupeException.class, () -> TokenActivations.of(List.of("a"), new double[] {1, 2}));
    }
}
