package dev.loupe.cli.sae;

import dev.loupe.cli.ModelTokenizer;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.saes.Sae;
import dev.loupe.saes.dashboard.DashboardConfig;
import dev.loupe.saes.dashboard.FeatureDashboard;
import dev.loupe.saes.dashboard.FeatureDashboards;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.viz.FeatureDashboardView;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./loupe sae dashboard}: feature dashboards from a store, as a static HTML page. */
@Command(
        name = "dashboard",
        mixinStandardHelpOptions = true,
        description = {
            "Feature dashboards from a store, as an offline HTML page.",
            "Top contexts, activation intervals, histogram, density and logit effects of each feature, from the",
            "store's rows of the SAE's hook."
        })
public final class SaeDashboardCommand implements Callable<Integer> {
    @Mixin
    SaeOption sae;

    @Option(
            names = "--store",
            required = true,
            paramLabel = "DIR",
            description = "an activations store holding the SAE's hook")
    Path store;

    @Option(names = "--features", required = true, paramLabel = "F1,F2,...", description = "latent indices")
    String features;

    @Option(names = "--out", required = true, paramLabel = "FILE.html", description = "the page")
    Path out;

    @Option(names = "--model", paramLabel = "M", description = "for logit effects (W_dec · W_U) and the tokenizer")
    String model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "token text (default: the model's; else ids)")
    Path tokenizer;

    @Option(
            names = "--max-rows",
            paramLabel = "N",
            defaultValue = "0",
            description = "rows of the store to read (0: all)")
    long maxRows;

    @Override
    public Integer call() {
        Sae s = sae.load();
        int[] f;
        try {
            f = Arrays.stream(features.split(","))
                    .map(String::trim)
                    .mapToInt(Integer::parseInt)
                    .toArray();
        } catch (NumberFormatException e) {
            throw new LoupeException(
                    "sae dashboard: --features must be latent indices like 3,17,40, got '" + features + "'");
        }
        HookedTransformer m = null;
        Tokenizer tok = tokenizer != null ? Tokenizers.load(tokenizer) : null;
        if (model != null) {
            Path where = ModelLoader.locate(model);
            m = ModelLoader.load(where.toString());
            ModelTokenizer.Found found = tok == null ? ModelTokenizer.find(null, where) : null;
            if (found != null) tok = found.tokenizer();
        }
        List<FeatureDashboard> ds;
        try (ActivationStore st = ActivationStore.open(store);
                ProgressBar bar = ProgressBar.onStderr(
                        "dashboards", 0, maxRows > 0 ? Math.min(maxRows, st.rows()) : st.rows(), "rows")) {
            ds = FeatureDashboards.compute(s, st, f, DashboardConfig.defaults().withMaxRows(maxRows), m, tok, bar);
        }
        byte[] page = FeatureDashboardView.of(ds)
                .page("Features of " + s.config().describe())
                .getBytes(StandardCharsets.UTF_8);
        AtomicFileWriter.write(out, ch -> ch.write(ByteBuffer.wrap(page)));
        System.out.println("wrote " + out + " (" + ds.size() + " features)");
        return 0;
    }
}
