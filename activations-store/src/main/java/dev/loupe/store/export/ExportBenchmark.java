package dev.loupe.store.export;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.write.StoreWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe store bench-export --format saelens|parquet}: export throughput against the
 * {@code .npy} export of the same store, measured in the same run: a synthetic store of
 * {@code --store-gb} (2 GB) is written, then exported as npy and as the format, alternated
 * {@code rounds} times (the best of each counts: the machine's noise is one-sided), every export
 * fsynced and renamed into place as usual. Throughput is store bytes per second, so the ratio is
 * the npy export's time over the format's (goal ≥ 0.7). Memory: the peak of the process's anonymous
 * resident memory (heap and native buffers, not the memory-mapped store) above its level before the
 * export, sampled every 5 ms; it should stay near one batch or row group, far below a file and the store.
 */
public final class ExportBenchmark {
    private ExportBenchmark() {}

    /**
     * @param format    saelens or parquet
     * @param out       folder for the store and the exports (null: a new temporary folder, deleted after)
     * @param storeGb   store size in GB (activation bytes)
     * @param d         row width (GPT-2 small's d_model: 768)
     * @param context   tokens per sequence
     * @param dtype     storage dtype of the synthetic store
     * @param rows      rows of a Parquet export
     * @param rounds    alternated npy/format export pairs
     */
    public record Config(
            ExportFormat format,
            Path out,
            double storeGb,
            int d,
            int context,
            StoreDType dtype,
            ExportOptions.Rows rows,
            int rounds) {
        public static Config of(ExportFormat format) {
            return new Config(format, null, 2.0, 768, 128, StoreDType.F32, ExportOptions.Rows.SEQUENCES, 2);
        }
    }

    /** Best store-bytes/s of each export, their ratio, and the peak anonymous memory of the format's export. */
    public record Result(double npyBytesPerSecond, double formatBytesPerSecond, long peakAnonBytes, long storeBytes) {
        public double ratio() {
            return formatBytesPerSecond / npyBytesPerSecond;
        }
    }

    public static Result run(Config c, PrintStream log) {
        if (c.format() == ExportFormat.NPY)
            throw new LoupeException("bench-export: --format must be saelens or parquet");
        boolean temporary = c.out() == null;
        Path dir;
        try {
            dir = temporary ? Files.createTempDirectory("loupe-export-bench") : Files.createDirectories(c.out());
        } catch (IOException e) {
            throw new LoupeException("bench-export: cannot create the bench folder: " + e.getMessage(), e);
        }
        Path store = dir.resolve("store");
        try {
            long storeBytes = writeStore(c, store, log);
            ExportOptions options = ExportOptions.defaults().withRows(c.rows());
            double bestNpy = 0, bestFormat = 0;
            long peak = 0;
            try (ActivationStore s = ActivationStore.open(store)) {
                for (int round = 1; round <= c.rounds(); round++) {
                    long[] npyUse = {0, 0}, use = {0, 0};
                    double npy = timed(s, dir.resolve("npy"), ExportFormat.NPY, options, npyUse);
                    double fmt = timed(s, dir.resolve(c.format().label()), c.format(), options, use);
                    log.printf(
                            Locale.ROOT,
                            "   round %d: npy %.0f MB/s (%.1f s, cpu %.1f s), %s %.0f MB/s (%.1f s, cpu %.1f s);"
                                    + " peak anonymous memory +%.0f MB%n",
                            round,
                            storeBytes / npy / 1e6,
                            npy,
                            npyUse[1] / 1e9,
                            c.format().label(),
                            storeBytes / fmt / 1e6,
                            fmt,
                            use[1] / 1e9,
                            use[0] / 1e6);
                    long[] anon = use;
                    bestNpy = Math.max(bestNpy, storeBytes / npy);
                    bestFormat = Math.max(bestFormat, storeBytes / fmt);
                    peak = Math.max(peak, anon[0]);
                }
            }
            Result r = new Result(bestNpy, bestFormat, peak, storeBytes);
            log.printf(
                    Locale.ROOT,
                    "format=%s store_gb=%.2f dtype=%s npy_mb_per_s=%.0f %s_mb_per_s=%.0f peak_anon_mb=%.0f ratio_vs_npy=%.3f%n",
                    c.format().label(),
                    storeBytes / 1e9,
                    c.dtype().label(),
                    bestNpy / 1e6,
                    c.format().label(),
                    bestFormat / 1e6,
                    peak / 1e6,
                    r.ratio());
            return r;
        } finally {
            StoreExport.deleteTree(store);
            StoreExport.deleteTree(dir.resolve("npy"));
            StoreExport.deleteTree(dir.resolve(c.format().label()));
            if (temporary) StoreExport.deleteTree(dir);
        }
    }

    /** A store of random rows, one hook of width d, written through the store's own writer. */
    private static long writeStore(Config c, Path dir, PrintStream log) {
        long rowBytes = (long) c.d() * c.dtype().width();
        int seqsPerAppend = Math.max(1, 4096 / c.context());
        long sequences = Math.max(1, (long) (c.storeGb() * 1e9) / (rowBytes * c.context()));
        long appends = Math.max(1, sequences / seqsPerAppend);
        int shardSequences =
                (int) Math.max(seqsPerAppend, (256L << 20) / (c.context() * rowBytes) / seqsPerAppend * seqsPerAppend);
        StoreManifest spec = StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic", "-", "-", 0, c.d(), 0),
                List.of(new StoreManifest.HookInfo("blocks.5.hook_resid_post", c.d())),
                c.dtype(),
                c.context(),
                new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                new StoreManifest.CreationInfo(seqsPerAppend, shardSequences, 0, 0, "bench-export"));
        Random r = new Random(0);
        INDArray x = Nd4j.rand(DataType.FLOAT, (long) seqsPerAppend * c.context(), c.d())
                .subi(0.5); // [rows per append, d]
        int[][] tokens = new int[seqsPerAppend][c.context()];
        for (int[] t : tokens) for (int i = 0; i < t.length; i++) t[i] = r.nextInt(50257);
        long t0 = System.nanoTime();
        StoreExport.deleteTree(dir);
        try (StoreWriter w = StoreWriter.open(dir, spec)) {
            for (long i = 0; i < appends; i++) w.append(Map.of("blocks.5.hook_resid_post", x), tokens);
            w.finish();
        }
        long bytes = appends * seqsPerAppend * c.context() * rowBytes;
        log.printf(
                Locale.ROOT,
                "store: %,d sequences x %d tokens of d=%d %s (%.2f GB) written in %.1f s; exports to %s, alternated %d times%n",
                appends * seqsPerAppend,
                c.context(),
                c.d(),
                c.dtype().label(),
                bytes / 1e9,
                (System.nanoTime() - t0) / 1e9,
                c.format().label(),
                c.rounds());
        return bytes;
    }

    /**
     * Seconds for one export (then deleted); {@code use[0]}: the peak anonymous memory above the start,
     * {@code use[1]}: the process's CPU time (nanoseconds, all threads) during the export.
     */
    private static double timed(ActivationStore s, Path out, ExportFormat format, ExportOptions options, long[] use) {
        StoreExport.deleteTree(out);
        System.gc();
        long base = anonBytes();
        AtomicLong peak = new AtomicLong(base);
        AtomicBoolean running = new AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (running.get()) {
                peak.accumulateAndGet(anonBytes(), Math::max);
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        var os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        try {
            StoreExport.export(s, out, format, options, total -> ProgressBar.silent());
        } finally {
            running.set(false);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        try {
            sampler.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        use[0] = peak.get() - base;
        use[1] = os.getProcessCpuTime() - cpu0;
        StoreExport.deleteTree(out);
        return seconds;
    }

    /** {@code RssAnon} of /proc/self/status: heap and native allocations, not mapped files (0 where absent). */
    static long anonBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("RssAnon:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException e) {
            // not Linux: memory is not measured
        }
        return 0;
    }
}
