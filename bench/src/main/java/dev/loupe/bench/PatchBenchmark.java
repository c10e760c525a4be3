package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.analysis.AttributionPatching;
import dev.loupe.engine.analysis.PatchResult;
import dev.loupe.engine.analysis.Patching;
import dev.loupe.engine.analysis.PatchingMetric;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe bench patch}: a whole activation-patching sweep (every layer x position, or every
 * head) of one clean/corrupted pair on random weights of a named shape, timed end to end (the clean
 * and corrupted runs included); with {@code vsTorch}, the same sweep written as TransformerLens runs
 * it — one hooked forward pass per patch — in PyTorch on the same machine ({@code torch_patch.py}),
 * last line {@code ratio_vs_torch=} (PyTorch's time over Loupe's). Also times attribution patching
 * (every node of every family from one clean forward and one corrupted forward+backward) as a
 * multiple of one forward+backward.
 */
public final class PatchBenchmark {

    /** The targets {@code --target} accepts (those the PyTorch peer implements too). */
    public static final List<String> TARGETS =
            List.of("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "head_z");

    /**
     * What to measure: a named {@code shape} ({@link ForwardBenchmark#SHAPE_NAMES}), prompts of
     * {@code seq} tokens, the patched {@code target}, random weights and tokens from {@code seed},
     * {@code memoryMib} for one batched pass, and with {@code vsTorch} the PyTorch peer run by
     * {@code python} (null: {@code $LOUPE_PYTHON}, else /usr/bin/python3), timing {@code torchSample}
     * of its patches when &gt; 0 (and scaling to all).
     */
    public record Settings(
            String shape,
            int seq,
            String target,
            int seed,
            long memoryMib,
            boolean vsTorch,
            String python,
            int torchSample) {}

    private PatchBenchmark() {}

    public static void run(Settings s) {
        ModelConfig cfg = ForwardBenchmark.shape(s.shape(), "bench patch");
        if (!TARGETS.contains(s.target()))
            throw new LoupeException(
                    "bench patch: --target '" + s.target() + "' is not one of " + String.join(", ", TARGETS));
        if (s.seq() < 2 || s.seq() > cfg.nCtx())
            throw new LoupeException("bench patch: --seq must be in 2.." + cfg.nCtx() + ", got " + s.seq());
        if (s.memoryMib() < 1) throw new LoupeException("bench patch: --memory must be >= 1 MiB");
        int threads = Nd4j.getEnvironment().maxMasterThreads();
        HookedTransformer model = HookedTransformer.random(cfg, s.seed());
        Random rng = new Random(s.seed());
        int[] clean = new int[s.seq()];
        for (int i = 0; i < clean.length; i++) clean[i] = rng.nextInt(cfg.dVocab());
        int[] corrupt = clean.clone();
        corrupt[s.seq() / 2] = (corrupt[s.seq() / 2] + 1) % cfg.dVocab();
        Tokens cleanTokens = Tokens.of(clean), corruptTokens = Tokens.of(corrupt);
        PatchingMetric metric = PatchingMetric.logitDiff(1, 2);
        int runs = cfg.nLayers() * (s.target().equals("head_z") ? cfg.nHeads() : s.seq());
        System.out.printf(
                Locale.ROOT,
                "shape %s (%,d parameters), seq %d, target %s: %d patched runs; %d threads, %d MiB per batched pass%n",
                s.shape(),
                cfg.parameterCount(),
                s.seq(),
                s.target(),
                runs,
                threads,
                s.memoryMib());

        // Warm-up: a few patches through the same code, so the timed sweep runs compiled code.
        int last = cfg.nLayers() - 1;
        Patching.of(model, cleanTokens, corruptTokens, metric)
                .generic(
                        "resid_pre",
                        List.of("layer", "pos"),
                        new int[][] {{last, 0}, {last, 1}},
                        dev.loupe.engine.analysis.PatchSetter.LAYER_POS);
        long t0 = System.nanoTime();
        PatchResult r = Patching.of(model, cleanTokens, corruptTokens, metric)
                .memoryBudget(s.memoryMib() << 20)
                .progress(true)
                .target(s.target());
        double loupe = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
                Locale.ROOT,
                "loupe: %d runs in %.2f s (%.1f ms per patched run; the clean and corrupted runs included), "
                        + "effects %.4f..%.4f%n",
                runs,
                loupe,
                1000 * loupe / runs,
                r.values().minNumber().doubleValue(),
                r.values().maxNumber().doubleValue());

        double forwardBackward = median(3, () -> model.forward(ForwardRequest.of(corruptTokens)
                        .gradientsOf(out -> metric.apply(out.logits()))
                        .build())
                .close());
        double attribution = median(3, () -> AttributionPatching.of(model, cleanTokens, corruptTokens, metric)
                .residPre());
        System.out.printf(
                Locale.ROOT,
                "attribution patching (clean forward + corrupted forward and backward, caching every family): "
                        + "%.3f s = %.2f x one forward+backward (%.3f s)%n",
                attribution,
                attribution / forwardBackward,
                forwardBackward);

        if (s.vsTorch()) {
            String python = TorchPeer.python(s.python());
            List<String> args = new ArrayList<>(List.of(
                    "--config",
                    Json.write(TorchPeer.architecture(cfg)),
                    "--seq",
                    "" + s.seq(),
                    "--target",
                    s.target(),
                    "--threads",
                    "" + threads,
                    "--seed",
                    "" + s.seed()));
            if (s.torchSample() > 0) args.addAll(List.of("--sample", "" + s.torchSample()));
            JsonNode json = TorchPeer.run(python, "torch_patch.py", args);
            double torch = json.path("seconds").asDouble();
            System.out.printf(
                    Locale.ROOT,
                    "torch %s (%s, %d threads): %d runs in %.2f s (%.1f ms per run%s)%n",
                    json.path("torch").asText(),
                    python,
                    json.path("threads").asInt(),
                    json.path("runs").asInt(),
                    torch,
                    1000 * json.path("seconds_per_run").asDouble(),
                    json.path("timed_runs").asInt() < json.path("runs").asInt()
                            ? "; " + json.path("timed_runs").asInt() + " runs timed and scaled to all"
                            : "");
            System.out.printf(Locale.ROOT, "ratio_vs_torch=%.3f%n", torch / loupe);
        }
    }

    private static double median(int n, Runnable body) {
        body.run(); // warm-up
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            body.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        java.util.Arrays.sort(t);
        return t[n / 2];
    }
}
