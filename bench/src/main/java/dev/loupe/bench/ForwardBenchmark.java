package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe bench forward}: forward throughput on random weights of a named shape, optionally
 * while caching every activation, and optionally against the PyTorch peer script on the same
 * machine in the same run. Prints tokens/s, achieved GFLOP/s against this machine's measured GEMM
 * peak, memory, and as its last line {@code ratio_vs_torch=...} when asked.
 */
public final class ForwardBenchmark {
    private static final Map<String, Supplier<ModelConfig>> SHAPES =
            Map.of("gpt2-small", ModelConfig::gpt2Small, "tiny", () -> ModelConfig.builder()
                    .dModel(128)
                    .nLayers(2)
                    .nHeads(4)
                    .dVocab(1000)
                    .nCtx(256)
                    .build());

    private ForwardBenchmark() {}

    /**
     * What to measure: a named {@code shape} ({@link #SHAPE_NAMES}), batch x seq tokens, {@code cache}
     * none or all, {@code iters} timed runs after {@code warmup}, random weights and tokens from
     * {@code seed}, and with {@code vsTorch} the PyTorch peer too.
     */
    public record Settings(
            String shape, int batch, int seq, String cache, int iters, int warmup, int seed, boolean vsTorch) {}

    /** The shapes {@code --shape} accepts. */
    public static final List<String> SHAPE_NAMES = List.of("gpt2-small", "tiny");

    /** The config of a named shape ({@link #SHAPE_NAMES}); errors name {@code command}. */
    static ModelConfig shape(String name, String command) {
        Supplier<ModelConfig> shape = SHAPES.get(name);
        if (shape == null)
            throw new LoupeException(command + ": unknown --shape '" + name + "' (known: " + SHAPE_NAMES + ")");
        return shape.get();
    }

    public static void run(Settings a) {
        String shapeName = a.shape();
        ModelConfig cfg = shape(shapeName, "bench forward");
        int batch = a.batch(), seq = a.seq(), iters = a.iters(), warmup = a.warmup(), seed = a.seed();
        String cache = a.cache();
        if (!cache.equals("none") && !cache.equals("all"))
            throw new LoupeException("bench forward: --cache must be none or all");
        if (seq > cfg.nCtx()) throw new LoupeException("bench forward: --seq " + seq + " exceeds n_ctx " + cfg.nCtx());
        if (batch < 1 || seq < 1 || iters < 1)
            throw new LoupeException("bench forward: --batch, --seq and --iters must be >= 1");

        // The peer gets as many threads as ND4J uses here (OMP_NUM_THREADS, else one per core).
        int threads = Nd4j.getEnvironment().maxMasterThreads();
        System.out.printf(
                Locale.ROOT,
                "shape %s (%,d parameters), batch %d x seq %d, %d iterations after %d warm-up, %d threads%n",
                shapeName,
                cfg.parameterCount(),
                batch,
                seq,
                iters,
                warmup,
                threads);
        HookedTransformer model = HookedTransformer.random(cfg, seed);
        Tokens tokens = randomTokens(cfg, batch, seq, seed);
        double flops = forwardFlops(cfg, batch, seq);

        // Each result is closed as soon as it is measured, as PyTorch frees its tensors by refcount.
        double plain = measure("plain forward", iters, warmup, () -> model.forward(
                        ForwardRequest.of(tokens).build())
                .close());
        report("loupe plain", batch * seq / plain, flops / plain);
        double best = plain;
        if (cache.equals("all")) {
            long[] cachedBytes = {0};
            long rssBefore = peakRssBytes();
            double cached = measure("forward caching all", iters, warmup, () -> {
                try (ForwardResult r = model.runWithCache(tokens, ActivationFilter.all())) {
                    cachedBytes[0] = r.cache().bytes();
                }
            });
            report("loupe cache=all", batch * seq / cached, flops / cached);
            System.out.printf(Locale.ROOT, "cache overhead: %.1f%% over plain%n", 100 * (cached / plain - 1));
            System.out.printf(
                    Locale.ROOT,
                    "cached tensors: %.1f MiB; peak RSS %.1f MiB (before cached runs %.1f MiB); JVM heap used %.1f MiB; javacpp off-heap now %.1f MiB%n",
                    mib(cachedBytes[0]),
                    mib(peakRssBytes()),
                    mib(rssBefore),
                    mib(Runtime.getRuntime().totalMemory()
                            - Runtime.getRuntime().freeMemory()),
                    mib(Pointer.totalBytes()));
            best = cached;
        }
        double peak = gemmPeakGflops();
        System.out.printf(
                Locale.ROOT,
                "gemm peak (Nd4j.gemm 2048^3 fp32): %.1f GFLOP/s; plain forward reaches %.0f%% of it%n",
                peak,
                100 * flops / plain / 1e9 / peak);

        if (a.vsTorch()) {
            double torch = torchTokensPerSecond(cfg, batch, seq, iters, warmup, threads, seed, cache);
            double loupe = batch * seq / best;
            System.out.printf(
                    Locale.ROOT, "torch %s: %.1f tokens/s%n", cache.equals("all") ? "cache=all" : "plain", torch);
            System.out.printf(Locale.ROOT, "ratio_vs_torch=%.3f%n", loupe / torch);
        }
    }

    private static Tokens randomTokens(ModelConfig cfg, int batch, int seq, long seed) {
        Random r = new Random(seed);
        int[][] ids = new int[batch][seq];
        for (int[] row : ids) for (int i = 0; i < seq; i++) row[i] = r.nextInt(cfg.dVocab());
        return Tokens.of(ids);
    }

    /** Multiply-adds of every matrix product in one forward, times two. */
    static double forwardFlops(ModelConfig c, int batch, int seq) {
        double tokens = (double) batch * seq;
        double d = c.dModel(), q = (double) c.nHeads() * c.dHead(), kv = (double) c.nKvHeads() * c.dHead();
        double perTokenPerLayer =
                d * q * 2 + d * kv * 2 + (c.attnOnly() ? 0 : (c.activation().gated() ? 3 : 2) * d * c.dMlp());
        double attention = 2.0 * c.nHeads() * (double) seq * seq * c.dHead() * batch; // scores and z
        return 2 * (tokens * perTokenPerLayer * c.nLayers() + attention * c.nLayers() + tokens * d * c.dVocab());
    }

    private static double measure(String what, int iters, int warmup, Runnable body) {
        List<Double> times = new ArrayList<>();
        try (ProgressBar bar = ProgressBar.onStderr(what, 0, warmup + iters, "runs")) {
            for (int i = 0; i < warmup + iters; i++) {
                long t0 = System.nanoTime();
                body.run();
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (i >= warmup) times.add(seconds);
                bar.update(i + 1, String.format(Locale.ROOT, "%s %.3f s", i < warmup ? "warm-up" : "last", seconds));
            }
        }
        times.sort(Double::compare);
        return times.get(times.size() / 2);
    }

    private static void report(String what, double tokensPerSecond, double flopsPerSecond) {
        System.out.printf(
                Locale.ROOT, "%s: %.1f tokens/s (%.1f GFLOP/s)%n", what, tokensPerSecond, flopsPerSecond / 1e9);
    }

    private static double gemmPeakGflops() {
        int n = 2048;
        INDArray x = Nd4j.rand(DataType.FLOAT, n, n),
                y = Nd4j.rand(DataType.FLOAT, n, n),
                z = Nd4j.create(DataType.FLOAT, n, n);
        Nd4j.gemm(x, y, z, false, false, 1, 0);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            Nd4j.gemm(x, y, z, false, false, 1, 0);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return 2.0 * n * n * n / best / 1e9;
    }

    static long peakRssBytes() {
        return procStatusBytes("VmHWM:");
    }

    static long currentRssBytes() {
        return procStatusBytes("VmRSS:");
    }

    private static long procStatusBytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith(field)) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: report 0
        }
        return 0;
    }

    private static double mib(long bytes) {
        return bytes / 1048576.0;
    }

    /** Runs the PyTorch peer (Debian python3-torch) with the same shape and returns its tokens/s. */
    private static double torchTokensPerSecond(
            ModelConfig c, int batch, int seq, int iters, int warmup, int threads, int seed, String cache) {
        String config = Json.write(TorchPeer.architecture(c));
        JsonNode json = TorchPeer.run(
                "torch_forward.py",
                List.of(
                        "--config",
                        config,
                        "--batch",
                        "" + batch,
                        "--seq",
                        "" + seq,
                        "--iters",
                        "" + iters,
                        "--warmup",
                        "" + warmup,
                        "--threads",
                        "" + threads,
                        "--seed",
                        "" + seed,
                        "--cache",
                        cache));
        System.out.println("torch " + json.path("torch").asText() + " with "
                + json.path("threads").asInt() + " threads");
        return json.path("tokens_per_s").asDouble();
    }
}
