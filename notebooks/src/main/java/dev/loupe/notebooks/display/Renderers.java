package dev.loupe.notebooks.display;

import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.viz.FeatureDashboardView;
import dev.loupe.viz.Figure;
import dev.loupe.viz.PlotlyJs;
import dev.loupe.viz.TableHtml;
import java.util.Arrays;
import java.util.function.Function;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.Table;

/** How the notebook shows Loupe's objects: HTML with a text/plain fallback for each. */
public final class Renderers {

    private Renderers() {}

    public static void registerAll(Renderer renderer) {
        register(
                renderer,
                Figure.class,
                MIMEType.TEXT_HTML,
                fig -> PlotlyJs.scriptTagOnce() + fig.html(),
                Figure::toString);
        register(
                renderer,
                AttentionView.class,
                MIMEType.TEXT_HTML,
                view -> PlotlyJs.scriptTagOnce() + view.html(),
                AttentionView::toString);
        register(
                renderer,
                FeatureDashboardView.class,
                MIMEType.TEXT_HTML,
                view -> PlotlyJs.scriptTagOnce() + view.html(),
                FeatureDashboardView::toString);
        register(
                renderer,
                TokenActivations.class,
                MIMEType.TEXT_HTML,
                TokenActivations::html,
                TokenActivations::toString);
        register(renderer, Markdown.class, MIMEType.TEXT_MARKDOWN, Markdown::text, Markdown::text);
        register(renderer, Table.class, MIMEType.TEXT_HTML, TableHtml::of, Table::printAll);
        register(
                renderer,
                ActivationCache.class,
                MIMEType.TEXT_HTML,
                cache -> TableHtml.of(cache.summary()),
                cache -> cache + "\n" + cache.summary().printAll());
        renderer.createRegistration(INDArray.class)
                .preferring(MIMEType.TEXT_PLAIN)
                .register((array, ctx) -> ctx.renderIfRequested(
                        MIMEType.TEXT_PLAIN,
                        () -> "INDArray " + array.dataType().name().toLowerCase() + " " + Arrays.toString(array.shape())
                                + "\n" + array));
    }

    /** {@code type} shown as {@code rich} (HTML, Markdown), with {@code text/plain} for text exports. */
    private static <T> void register(
            Renderer renderer, Class<T> type, MIMEType rich, Function<T, String> richText, Function<T, String> plain) {
        renderer.createRegistration(type)
                .preferring(rich)
                .supporting(MIMEType.TEXT_PLAIN)
                .register((value, ctx) -> {
                    ctx.renderIfRequested(rich, () -> richText.apply(value));
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, () -> plain.apply(value));
                });
    }
}
