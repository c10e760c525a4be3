package dev.loupe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.probes.LogisticProbe;
import dev.loupe.probes.Precondition;
import dev.loupe.probes.data.Labels;
import dev.loupe.probes.metrics.Metrics;
import dev.loupe.probes.sweep.LayerSweep;
import dev.loupe.probes.sweep.SweepResult;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.write.StoreWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code loupe bench probe}: (1) logistic probe fit time against scikit-learn's
 * {@code LogisticRegression(C, solver="lbfgs")} on the same data in the same run, both at the same
 * tolerance, checking that both reach the same training log-loss (within 1e-4); last line
 * {@code ratio_vs_sklearn=} (scikit-learn's best time over Loupe's). (2) With {@code sweep}, a layer
 * sweep streaming a synthetic store: wall time and peak memory.
 */
public final class ProbeBenchmark {
    private ProbeBenchmark() {}

    /**
     * @param python the Python with scikit-learn (LOUPE_PYTHON, default /usr/bin/python3)
     */
    public record Settings(
            int n,
            int d,
            int classes,
            double c,
            double tol,
            int maxIter,
            int repeats,
            long seed,
            boolean vsSklearn,
            String python,
            Precondition precondition) {}

    /** Runs the fit benchmark; returns the ratio (NaN without the peer). */
    public static double run(Settings o) {
        PrintStream out = System.out;
        if (o.n() < 2 || o.d() < 1 || o.classes() < 2 || o.repeats() < 1)
            throw new LoupeException("bench probe: need n >= 2, d >= 1, classes >= 2, repeats >= 1");
        out.printf(
                Locale.ROOT,
                "data: n=%d d=%d classes=%d, Gaussian features, labels drawn from a planted"
                        + " logistic model (seed %d)%n",
                o.n(),
                o.d(),
                o.classes(),
                o.seed());
        Synthetic data = Synthetic.classification(o.n(), o.d(), o.classes(), o.seed());
        // warm up the JIT and ND4J on a slice
        int warm = Math.min(o.n(), 5000);
        LogisticProbe.builder()
                .c(o.c())
                .tol(o.tol())
                .maxIter(o.maxIter())
                .precondition(o.precondition())
                .build()
                .fit(
                        data.x().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, warm)),
                        Arrays.copyOf(data.y(), warm));
        double best = Double.POSITIVE_INFINITY;
        LogisticProbe probe = null;
        for (int r = 0; r < o.repeats(); r++) {
            long t0 = System.nanoTime();
            probe = LogisticProbe.builder()
                    .c(o.c())
                    .tol(o.tol())
                    .maxIter(o.maxIter())
                    .precondition(o.precondition())
                    .build()
                    .fit(data.x(), data.y());
            double s = (System.nanoTime() - t0) / 1e9;
            best = Math.min(best, s);
            out.printf(
                    Locale.ROOT,
                    "loupe   fit %d: %.3f s (%d iterations, %s, preconditioner %s)%n",
                    r + 1,
                    s,
                    probe.nIter(),
                    probe.status(),
                    probe.params().get("precondition"));
        }
        int[] idx = new int[o.n()];
        int[] cls = probe.classes();
        for (int i = 0; i < idx.length; i++) idx[i] = Arrays.binarySearch(cls, data.y()[i]);
        double ll = Metrics.logLoss(idx, probe.predictProba(data.x()));
        out.printf(Locale.ROOT, "loupe   best %.3f s, training log-loss %.8f%n", best, ll);
        if (!o.vsSklearn()) return Double.NaN;

        Path dir = null;
        try {
            dir = Files.createTempDirectory("loupe-bench-probe");
            NpyWriter.write(dir.resolve("X.npy"), data.x());
            NpyWriter.write(dir.resolve("y.npy"), Nd4j.createFromArray(data.y()));
            JsonNode peer = TorchPeer.run(
                    o.python(),
                    "sklearn_probe.py",
                    List.of(
                            dir.toString(),
                            Double.toString(o.c()),
                            Double.toString(o.tol()),
                            Integer.toString(o.maxIter()),
                            Integer.toString(o.repeats())),
                    "scikit-learn",
                    "scikit-learn (apt-get install python3-sklearn, or --python PATH / LOUPE_PYTHON)");
            double skBest = Double.POSITIVE_INFINITY;
            int k = 0;
            for (JsonNode s : peer.get("seconds")) {
                skBest = Math.min(skBest, s.asDouble());
                out.printf(Locale.ROOT, "sklearn fit %d: %.3f s%n", ++k, s.asDouble());
            }
            double skLl = peer.get("log_loss").asDouble();
            out.printf(
                    Locale.ROOT,
                    "sklearn best %.3f s (%d iterations%s), training log-loss %.8f (scikit-learn %s," + " numpy %s)%n",
                    skBest,
                    peer.get("n_iter").asInt(),
                    peer.get("converged").asBoolean() ? "" : ", NOT converged",
                    skLl,
                    peer.get("sklearn").asText(),
                    peer.get("numpy").asText());
            double diff = Math.abs(ll - skLl);
            out.printf(Locale.ROOT, "|log-loss difference| = %.2e%n", diff);
            if (!(diff <= 1e-4))
                throw new LoupeException(String.format(
                        Locale.ROOT,
                        "bench probe: the training log-losses differ by %.2e (> 1e-4): loupe %.8f, scikit-learn %.8f",
                        diff,
                        ll,
                        skLl));
            double ratio = skBest / best;
            out.printf(Locale.ROOT, "ratio_vs_sklearn=%.2f%n", ratio);
            return ratio;
        } catch (IOException e) {
            throw new LoupeException("bench probe: cannot write the data for scikit-learn: " + e.getMessage(), e);
        } finally {
            if (dir != null) deleteTree(dir);
        }
    }

    /** Gaussian features with labels from a planted linear model (logits of standard deviation 3). */
    record Synthetic(INDArray x, int[] y) {
        static Synthetic classification(int n, int d, int classes, long seed) {
            Nd4j.getRandom().setSeed(seed);
            INDArray x = Nd4j.randn(DataType.FLOAT, n, d);
            int k = classes == 2 ? 1 : classes;
            INDArray w = Nd4j.randn(DataType.FLOAT, d, k).divi(Math.sqrt(d)).muli(3);
            // logits as one flat array, row-major [n, k]: toDoubleMatrix() made an ND4J row view per row,
            // 100,000 objects with native deallocators whose young-GC copying (80-200 ms pauses) then
            // landed in the timed fits
            double[] z = x.mmul(w).castTo(DataType.DOUBLE).dup('c').data().asDouble();
            SplittableRandom rng = new SplittableRandom(seed + 1);
            int[] y = new int[n];
            for (int i = 0; i < n; i++) {
                if (k == 1) {
                    y[i] = rng.nextDouble() < 1 / (1 + Math.exp(-z[i])) ? 1 : 0;
                } else { // a softmax draw: argmax of logits plus Gumbel noise
                    double best = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < k; c++) {
                        double g = z[i * k + c] - Math.log(-Math.log(rng.nextDouble()));
                        if (g > best) {
                            best = g;
                            y[i] = c;
                        }
                    }
                }
            }
            return new Synthetic(x, y);
        }
    }

    // ---- sweep --------------------------------------------------------------------------------------

    /**
     * @param store the store folder (made if it has no manifest yet; a temporary folder when null)
     * @param keep  keep a temporary store afterwards
     */
    public record SweepSettings(
            long rows, int layers, int d, Path store, StoreDType dtype, int maxIter, long seed, boolean keep) {}

    /**
     * Writes (unless present) a synthetic store of {@code layers} hooks of {@code rows} rows, whose
     * layer l carries a planted direction of strength growing with l, and fits a logistic probe per
     * layer streaming from it; prints the table, the time and the peak memory.
     */
    public static SweepResult sweep(SweepSettings o) {
        PrintStream out = System.out;
        Path dir = o.store();
        boolean temporary = dir == null;
        try {
            if (temporary) dir = Files.createTempDirectory("loupe-probe-sweep");
        } catch (IOException e) {
            throw new LoupeException("bench probe: cannot create a temporary store folder: " + e.getMessage(), e);
        }
        PeakMemory peak = PeakMemory.start();
        try {
            Path labelsFile = dir.resolve("labels.npy");
            if (!Files.isRegularFile(dir.resolve(StoreManifest.FILE))) {
                long t0 = System.nanoTime();
                writeStore(dir, labelsFile, o);
                out.printf(
                        Locale.ROOT,
                        "wrote a synthetic store of %d hooks x %d rows x d=%d (%s) in %.1f s: %s%n",
                        o.layers(),
                        o.rows(),
                        o.d(),
                        o.dtype().label(),
                        (System.nanoTime() - t0) / 1e9,
                        dir);
            }
            peak.reset();
            try (ActivationStore store = ActivationStore.open(dir)) {
                int[] labels = Labels.fromNpy(labelsFile, store.rows());
                long t0 = System.nanoTime();
                SweepResult r = LayerSweep.of(() ->
                                LogisticProbe.builder().maxIter(o.maxIter()).build())
                        .progress(true)
                        .run(store, store.hooks(), labels);
                double seconds = (System.nanoTime() - t0) / 1e9;
                out.println(r.table().printAll());
                out.printf(
                        Locale.ROOT,
                        "sweep: %d layers x %d rows x d=%d streamed from the store in %.1f s" + " (%.1f s per layer)%n",
                        store.hooks().size(),
                        store.rows(),
                        o.d(),
                        seconds,
                        seconds / store.hooks().size());
                out.println(peak.report());
                return r;
            }
        } finally {
            peak.stop();
            if (temporary && !o.keep()) deleteTree(dir);
        }
    }

    private static void writeStore(Path dir, Path labelsFile, SweepSettings o) {
        int context = 128, seqsPerAppend = 64, d = o.d();
        long sequences = (o.rows() + context - 1) / context;
        int appendRows = seqsPerAppend * context;
        List<StoreManifest.HookInfo> hooks = new ArrayList<>();
        for (int l = 0; l < o.layers(); l++)
            hooks.add(new StoreManifest.HookInfo("blocks." + l + ".hook_resid_post", d));
        int shardSequences = (int) Math.max(
                seqsPerAppend,
                (256L << 20) / ((long) context * d * o.dtype().width() * o.layers()) / seqsPerAppend * seqsPerAppend);
        StoreManifest spec = StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic-probe-sweep", "-", "-", o.layers(), d, 0),
                hooks,
                o.dtype(),
                context,
                new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                new StoreManifest.CreationInfo(seqsPerAppend, shardSequences, 0, o.layers(), "bench probe"));
        SplittableRandom rng = new SplittableRandom(o.seed());
        Nd4j.getRandom().setSeed(o.seed());
        // each layer: anisotropic noise (feature scales decaying 1/√j, a shared rank-8 component) plus
        // (2y − 1)·s_l·v_l along a planted unit direction v_l, s_l growing with depth
        INDArray scales = Nd4j.createUninitialized(DataType.FLOAT, d);
        for (int j = 0; j < d; j++) scales.putScalar(j, 3.0 / Math.sqrt(j + 1));
        INDArray[] directions = new INDArray[o.layers()];
        INDArray[] shared = new INDArray[o.layers()];
        for (int l = 0; l < o.layers(); l++) {
            INDArray v = Nd4j.randn(DataType.FLOAT, 1, d);
            directions[l] = v.divi(v.norm2Number()).muli(0.05 + 0.05 * l);
            shared[l] = Nd4j.randn(DataType.FLOAT, 8, d).muli(0.5);
        }
        int[] labels = new int[(int) (sequences * context)];
        long rowsDone = 0;
        try (StoreWriter w = StoreWriter.open(dir, spec);
                dev.loupe.engine.progress.ProgressBar bar =
                        dev.loupe.engine.progress.ProgressBar.onStderr("write store", 0, sequences * context, "rows")) {
            for (long s = 0; s < sequences; s += seqsPerAppend) {
                int seqs = (int) Math.min(seqsPerAppend, sequences - s), n = seqs * context;
                float[] sign = new float[n];
                for (int i = 0; i < n; i++) {
                    int y = rng.nextInt(2);
                    labels[(int) (rowsDone + i)] = y;
                    sign[i] = 2 * y - 1;
                }
                INDArray signs = Nd4j.createFromArray(sign).reshape(n, 1);
                Map<String, INDArray> acts = new LinkedHashMap<>();
                for (int l = 0; l < o.layers(); l++) {
                    INDArray x = Nd4j.randn(DataType.FLOAT, n, d).muliRowVector(scales);
                    INDArray noise = Nd4j.randn(DataType.FLOAT, n, 8), sharedPart = noise.mmul(shared[l]);
                    INDArray planted = signs.mmul(directions[l]);
                    x.addi(sharedPart).addi(planted);
                    closeAll(noise, sharedPart, planted);
                    acts.put(hooks.get(l).name(), x);
                }
                w.append(acts, new int[seqs][context]);
                // ~25 MB per layer per append: free them now, not at a GC that may come after 10 GB
                closeAll(acts.values().toArray(INDArray[]::new));
                closeAll(signs);
                rowsDone += n;
                bar.update(rowsDone, "");
            }
            w.finish();
        }
        NpyWriter.write(labelsFile, Nd4j.createFromArray(labels));
    }

    private static void closeAll(INDArray... arrays) {
        for (INDArray a : arrays) if (a.closeable()) a.close();
    }

    /** Peak resident memory: the JVM heap's peak and the process's anonymous (non-file) memory, sampled. */
    private static final class PeakMemory {
        private volatile boolean running = true;
        private volatile long peakAnon;
        private final Thread sampler;

        private PeakMemory() {
            sampler = new Thread(
                    () -> {
                        while (running) {
                            peakAnon = Math.max(peakAnon, anonymousKb());
                            try {
                                Thread.sleep(50);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    },
                    "peak-memory");
            sampler.setDaemon(true);
        }

        static PeakMemory start() {
            PeakMemory p = new PeakMemory();
            p.sampler.start();
            return p;
        }

        void reset() {
            peakAnon = anonymousKb();
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();
        }

        void stop() {
            running = false;
            sampler.interrupt();
        }

        String report() {
            long heap = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans())
                if (pool.getType() == MemoryType.HEAP)
                    heap += pool.getPeakUsage().getUsed();
            return String.format(
                    Locale.ROOT,
                    "peak memory during the sweep: %.0f MB resident anonymous (JVM heap + ND4J off-heap; the memory-mapped"
                            + " store pages are page cache, not counted), of which JVM heap peak %.0f MB",
                    peakAnon / 1024.0,
                    heap / 1e6);
        }

        private static long anonymousKb() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                    if (line.startsWith("RssAnon:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            } catch (IOException | NumberFormatException ignored) {
                // not Linux: no sample
            }
            return 0;
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }
}
