package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Folders;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.kernels.SparseOps;
import dev.loupe.saes.train.SaeLearner;
import dev.loupe.saes.train.SaeSpec;
import dev.loupe.saes.train.SaeTrainer;
import dev.loupe.saes.train.SaeTrainingConfig;
import dev.loupe.saes.train.SaeTrainingRun;
import dev.loupe.saes.train.TrainingSae;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.write.StoreWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe bench sae}: TopK SAE training steps per second (SAELens's step: encode, top-k, decode,
 * MSE, the AuxK check, latent statistics, backward, clipping, Adam) on one fixed random batch, and with
 * {@code --vs-torch} the same step in plain PyTorch written as SAELens writes it (resource
 * {@code torch_sae.py}) on the same machine with as many threads; last line
 * {@code ratio_vs_torch=<loupe ÷ torch steps/s>}. Then training from an activations store through its
 * shuffled stream: the time each step waits for its batch, and the process's resident memory over the
 * steps (bounded: the mixing buffer holds row numbers, batches are freed each step).
 */
public final class SaeBenchmark {
    private SaeBenchmark() {}

    /**
     * @param python      the Python for the peer (a venv with a newer torch), e.g. /usr/bin/python3
     * @param streamSteps steps trained from a synthetic store (0: skip that part)
     */
    public record Settings(
            int dIn,
            int dSae,
            int k,
            int batch,
            int steps,
            int warmup,
            boolean vsTorch,
            String python,
            int streamSteps) {}

    public static double run(Settings s) {
        if (s.dIn() < 1 || s.dSae() < 1 || s.batch() < 1 || s.steps() < 1 || s.warmup() < 0)
            throw new LoupeException("bench sae: --d-in, --d-sae, --batch and --steps must be >= 1, --warmup >= 0");
        if (s.k() < 1 || s.k() > s.dSae())
            throw new LoupeException("bench sae: --k must be in [1, --d-sae = " + s.dSae() + "], got " + s.k());
        int threads = Nd4j.getEnvironment().maxMasterThreads();
        long params = 2L * s.dIn() * s.dSae() + s.dSae() + s.dIn();
        System.out.printf(
                Locale.ROOT,
                "TopK SAE training step: d_in %d, d_sae %d, k %d, batch %d (%,d parameters), %d timed steps after %d,"
                        + " %d threads, sparse kernels: %s%n",
                s.dIn(),
                s.dSae(),
                s.k(),
                s.batch(),
                params,
                s.steps(),
                s.warmup(),
                threads,
                SparseOps.openBlas() ? "OpenBLAS" : "Java");
        double loupe = loupeStepsPerSecond(s);
        if (s.streamSteps() > 0) stream(s);
        if (!s.vsTorch()) return Double.NaN;
        JsonNode peer = TorchPeer.run(
                s.python(),
                "torch_sae.py",
                List.of(
                        "--d-in", Integer.toString(s.dIn()),
                        "--d-sae", Integer.toString(s.dSae()),
                        "--k", Integer.toString(s.k()),
                        "--batch", Integer.toString(s.batch()),
                        "--steps", Integer.toString(s.steps()),
                        "--warmup", Integer.toString(s.warmup()),
                        "--threads", Integer.toString(threads)));
        double torch = peer.get("steps_per_s").asDouble();
        System.out.printf(
                Locale.ROOT,
                "torch %s (%s, %d threads): %.1f ms/step (%.3f steps/s); steps %s ms%n",
                peer.get("torch").asText(),
                s.python(),
                peer.get("threads").asInt(),
                1000 / torch,
                torch,
                milliseconds(peer.get("step_seconds")));
        double ratio = loupe / torch;
        System.out.printf(Locale.ROOT, "ratio_vs_torch=%.3f%n", ratio);
        return ratio;
    }

    private static double loupeStepsPerSecond(Settings s) {
        SaeTrainingConfig config = SaeTrainingConfig.of(s.warmup() + s.steps(), s.batch(), 3e-4, 0);
        SaeSpec spec = SaeSpec.of("bench", Architecture.TOPK, s.dSae(), s.k()).withBDecInit(SaeSpec.BDecInit.ZEROS);
        SaeLearner learner = new SaeLearner(TrainingSae.create(spec, s.dIn(), 0), config);
        Nd4j.getRandom().setSeed(0);
        INDArray x = Nd4j.randn(DataType.FLOAT, s.batch(), s.dIn());
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < s.warmup() + s.steps(); i++) {
            long t0 = System.nanoTime();
            learner.step(x, i, config, null);
            if (i >= s.warmup()) times.add((System.nanoTime() - t0) / 1e9);
        }
        double total = times.stream().mapToDouble(Double::doubleValue).sum();
        double perSecond = times.size() / total;
        System.out.printf(
                Locale.ROOT,
                "loupe: %.1f ms/step (%.3f steps/s); steps %s ms%n",
                1000 / perSecond,
                perSecond,
                milliseconds(times));
        return perSecond;
    }

    /** Trains from a synthetic bf16 store through the shuffled stream: wait per step and resident memory. */
    private static void stream(Settings s) {
        Path dir;
        try {
            dir = Files.createTempDirectory("loupe-bench-sae");
        } catch (IOException e) {
            throw new LoupeException("bench sae: cannot create a temporary folder: " + e.getMessage(), e);
        }
        try {
            int context = 128;
            long rows = (long) s.batch() * Math.max(4, s.streamSteps() / 2); // two epochs' worth of steps
            int seqs = (int) Math.max(1, rows / context);
            int perAppend = Math.max(1, 4096 / context);
            StoreManifest spec = StoreManifest.create(
                    new StoreManifest.ModelInfo("synthetic", "-", "-", 0, s.dIn(), 0),
                    List.of(new StoreManifest.HookInfo("h", s.dIn())),
                    StoreDType.BF16,
                    context,
                    new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                    new StoreManifest.CreationInfo(perAppend, perAppend * 16, 0, 0, "bench sae"));
            Nd4j.getRandom().setSeed(1);
            try (StoreWriter w = StoreWriter.open(dir.resolve("store"), spec)) {
                for (int done = 0; done < seqs; done += perAppend)
                    w.append(
                            Map.of("h", Nd4j.randn(DataType.FLOAT, (long) perAppend * context, s.dIn())),
                            new int[perAppend][context]);
                w.finish();
            }
            try (ActivationStore store = ActivationStore.open(dir.resolve("store"))) {
                long[] resident = new long[s.streamSteps()];
                SaeTrainingRun run = new SaeTrainer(SaeTrainingConfig.of(s.streamSteps(), s.batch(), 3e-4, 0)
                                .withShuffleBufferRows(store.rows()))
                        .add(SaeSpec.of("h", Architecture.TOPK, s.dSae(), s.k()).withBDecInit(SaeSpec.BDecInit.ZEROS))
                        .showProgress(false)
                        .onStep((step, row) -> resident[step - 1] = Pointer.physicalBytes())
                        .train(store);
                double[] waits = run.history().stream()
                        .mapToDouble(r -> r.get("wait_ms"))
                        .toArray();
                double waitAfterFirst = Arrays.stream(waits).skip(1).average().orElse(waits[0]);
                double stepMs = 1000 * run.stepSeconds() / run.history().size();
                long lo = Arrays.stream(resident).skip(1).min().orElse(resident[0]),
                        hi = Arrays.stream(resident).skip(1).max().orElse(resident[0]);
                System.out.printf(
                        Locale.ROOT,
                        "from a store (%,d bf16 rows, shuffled stream, buffer %.1f MB of row numbers): %d steps of %.0f ms;"
                                + " waiting for the batch: first step %.1f ms, later steps %.2f ms on average (%.2f%% of a step);"
                                + " resident memory after steps 2..%d: %.0f..%.0f MB%n",
                        store.rows(),
                        store.rows() * 8 / 1e6,
                        run.history().size(),
                        stepMs,
                        waits[0],
                        waitAfterFirst,
                        100 * waitAfterFirst / stepMs,
                        resident.length,
                        lo / 1e6,
                        hi / 1e6);
            }
        } finally {
            Folders.deleteTree(dir);
        }
    }

    private static String milliseconds(List<Double> seconds) {
        StringBuilder b = new StringBuilder();
        for (double t : seconds)
            b.append(b.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.0f", 1000 * t));
        return b.toString();
    }

    private static String milliseconds(JsonNode seconds) {
        List<Double> l = new ArrayList<>();
        seconds.forEach(n -> l.add(n.asDouble()));
        return milliseconds(l);
    }
}
