package dev.loupe.cli.store;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.spark.stats.DirectionEncoder;
import dev.loupe.spark.stats.FeatureEncoder;
import dev.loupe.spark.stats.FeatureStatsConfig;
import dev.loupe.spark.stats.FeatureStatsFiles;
import dev.loupe.spark.stats.FeatureStatsJob;
import dev.loupe.spark.stats.NeuronEncoder;
import dev.loupe.spark.stats.SaeEncoder;
import dev.loupe.store.StoreManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./loupe store features DIR}: per-feature statistics of a store on Spark, for feature dashboards. */
@Command(
        name = "features",
        mixinStandardHelpOptions = true,
        description = {
            "Per-feature statistics of a store, on Spark: density, mean/max activation, histogram, top rows.",
            "Features are a hook's neurons (--neurons), projections on directions (--directions, e.g. a probe's",
            "weights) or an SAE's latents (--sae, on the SAE's hook). Writes feature-stats.json and features-NNNNN.json (the feature dashboards' layout) into --out."
        })
public final class StoreFeaturesCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "the store folder")
    Path store;

    @Option(
            names = "--hook",
            paramLabel = "HOOK",
            description = "the stored hook (full or short name); with --sae, default: the SAE's hook_name")
    String hook;

    @Option(names = "--neurons", paramLabel = "all|i,j,...", description = "the hook's neurons as features")
    String neurons;

    @Option(names = "--directions", paramLabel = "FILE.npy", description = "[features, d] directions to project on")
    Path directions;

    @Option(
            names = "--sae",
            paramLabel = "DIR",
            description = "an SAE's latents as features: an SAELens folder, hf:org/repo/folder, or a zoo SAE")
    String sae;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "where the statistics go")
    Path out;

    @Option(
            names = "--spark",
            paramLabel = "MASTER",
            defaultValue = "local[*]",
            description = "local[N], spark://HOST:PORT, yarn, k8s://..., default; default: ${DEFAULT-VALUE}")
    String spark;

    @Option(names = "--spark-conf", paramLabel = "KEY=VALUE", description = "a Spark setting (repeatable)")
    Map<String, String> sparkConf = new LinkedHashMap<>();

    @Option(
            names = "--top-k",
            paramLabel = "K",
            defaultValue = "10",
            description = "top rows; default: ${DEFAULT-VALUE}")
    int topK;

    @Option(
            names = "--before",
            paramLabel = "N",
            defaultValue = "10",
            description = "context tokens before; default: ${DEFAULT-VALUE}")
    int before;

    @Option(
            names = "--after",
            paramLabel = "N",
            defaultValue = "4",
            description = "context tokens after; default: ${DEFAULT-VALUE}")
    int after;

    @Option(
            names = "--bins",
            paramLabel = "N",
            defaultValue = "40",
            description = "histogram bins; default: ${DEFAULT-VALUE}")
    int bins;

    @Option(
            names = "--tokenizer",
            paramLabel = "PATH",
            description = "token text (default: the store's tokenizer; else ids)")
    Path tokenizer;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Override
    public Integer call() {
        StoreManifest m = StoreManifest.read(store);
        if ((neurons != null ? 1 : 0) + (directions != null ? 1 : 0) + (sae != null ? 1 : 0) != 1)
            throw new LoupeException("store features: give exactly one of --neurons, --directions and --sae");
        if (hook == null && sae == null)
            throw new LoupeException("store features: --neurons and --directions need --hook");
        String h = hook == null ? null : HookNames.actName(hook.trim(), -1);
        if (h != null && !m.hookNames().contains(h)) throw HookNames.unknown("hook in " + store, hook, m.hookNames());
        FeatureEncoder enc;
        if (sae != null) enc = SaeEncoder.of(sae, h);
        else if (neurons != null) {
            if (neurons.equals("all")) enc = NeuronEncoder.all(h, m.d(h));
            else {
                try {
                    enc = new NeuronEncoder(
                            h,
                            m.d(h),
                            Arrays.stream(neurons.split(","))
                                    .map(String::trim)
                                    .mapToInt(Integer::parseInt)
                                    .toArray());
                } catch (NumberFormatException e) {
                    throw new LoupeException(
                            "store features: --neurons must be all or indices like 3,17,40, got '" + neurons + "'");
                }
            }
        } else enc = DirectionEncoder.fromNpy(h, directions);
        Path tokPath = tokenizer != null
                ? tokenizer
                : m.corpus().tokenizer() == null ? null : Path.of(m.corpus().tokenizer());
        Tokenizer tok = tokPath != null && Files.exists(tokPath) ? Tokenizers.load(tokPath) : null;
        FeatureStatsConfig cfg = new FeatureStatsConfig(topK, before, after, bins, 4096);
        FeatureStatsFiles.Header header;
        try (ProgressBar bar =
                quiet ? ProgressBar.silent() : ProgressBar.onStderr("features", 0, 2 * m.rows(), "rows")) {
            header = FeatureStatsJob.run(spark, sparkConf, store, enc, cfg, tok, out, bar);
        }
        long dead = Arrays.stream(header.density()).filter(d -> d == 0).count();
        System.out.printf(
                Locale.ROOT,
                "%s: %d features of %s over %d rows (%d never fire; median density %.4f)%n",
                out,
                header.features(),
                enc.describe(),
                header.rows(),
                dead,
                median(header.density()));
        return 0;
    }

    private static double median(double[] v) {
        if (v.length == 0) return 0;
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
