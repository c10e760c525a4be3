package dev.loupe.notebooks.display;

import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.viz.Figure;
import dev.loupe.viz.PlotlyJs;
import dev.loupe.viz.TableHtml;
import java.util.Arrays;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.Table;

/** How the notebook shows Loupe's objects: HTML with a text/plain fallback for each. */
public final class Renderers {

    private Renderers() {}

    public static void registerAll(Renderer renderer) {
        renderer.createRegistration(Figure.class)
                .preferring(MIMEType.TEXT_HTML)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((fig, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, () -> PlotlyJs.scriptTagOnce() + fig.html());
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, fig::toString);
                });
        renderer.createRegistration(AttentionView.class)
                .preferring(MIMEType.TEXT_HTML)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((view, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, () -> PlotlyJs.scriptTagOnce() + view.html());
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, view::toString);
                });
        renderer.createRegistration(TokenActivations.class)
                .preferring(MIMEType.TEXT_HTML)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((view, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, view::html);
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, view::toString);
                });
        renderer.createRegistration(Markdown.class)
                .preferring(MIMEType.TEXT_MARKDOWN)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((md, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_MARKDOWN, md::text);
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, md::text);
                });
        renderer.createRegistration(Table.class)
                .preferring(MIMEType.TEXT_HTML)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((table, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, () -> TableHtml.of(table));
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, table::printAll);
                });
        renderer.createRegistration(ActivationCache.class)
                .preferring(MIMEType.TEXT_HTML)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((cache, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, () -> TableHtml.of(cache.summary()));
                    ctx.renderIfRequested(
                            MIMEType.TEXT_PLAIN,
                            () -> cache + "\n" + cache.summary().printAll());
                });
        renderer.createRegistration(INDArray.class)
                .preferring(MIMEType.TEXT_PLAIN)
                .register((array, ctx) -> ctx.renderIfRequested(
                        MIMEType.TEXT_PLAIN,
                        () -> "INDArray " + array.dataType().name().toLowerCase() + " " + Arrays.toString(array.shape())
                                + "\n" + array));
    }
}
