package dev.loupe.bench;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Folders;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.export.ExportFormat;
import dev.loupe.store.export.ExportOptions;
import dev.loupe.store.export.ExportResult;
import dev.loupe.store.export.StoreExport;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.write.StoreWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe store bench-export --format saelens|parquet}: an export's throughput against the
 * {@code .npy} export of the same store, in the same run. A synthetic store of {@code storeGb}
 * (2 GB of activations) is written, then exported as npy and as the format, alternated
 * {@code rounds} times (the best of each counts: the machine's noise is one-sided). Each export
 * runs in a fresh JVM whose heap is capped at {@code heapMb} (512 MB, about one 500 MB file: an
 * export that held a file, let alone the store, would fail), is fsynced and renamed into place as
 * usual, and is timed inside that JVM. Throughput is store bytes per second, so the ratio is the npy
 * export's time over the format's (goal ≥ 0.7). Memory: the peak of the child's anonymous resident
 * memory (heap and native buffers, not the memory-mapped store or the page cache), sampled every
 * 10 ms.
 */
public final class ExportBenchmark {
    private ExportBenchmark() {}

    /**
     * @param format  saelens or parquet
     * @param out     folder for the store and the exports (null: a new temporary folder, deleted after)
     * @param storeGb store size in GB (activation bytes)
     * @param d       row width (GPT-2 small's d_model: 768)
     * @param context tokens per sequence
     * @param dtype   storage dtype of the synthetic store
     * @param rows    rows of a Parquet export
     * @param rounds  alternated npy/format export pairs
     * @param heapMb  the exporting JVMs' -Xmx
     */
    public record Settings(
            ExportFormat format,
            Path out,
            double storeGb,
            int d,
            int context,
            StoreDType dtype,
            ExportOptions.Rows rows,
            int rounds,
            int heapMb) {}

    /** Best store bytes/s of each export, their ratio, and the format's export's peak anonymous memory. */
    public record Result(
            double npyBytesPerSecond, double formatBytesPerSecond, long npyPeakAnon, long peakAnon, long storeBytes) {
        public double ratio() {
            return formatBytesPerSecond / npyBytesPerSecond;
        }
    }

    /** One timed export in a child JVM. */
    private record Run(double seconds, double cpuSeconds, long peakAnon, long bytes) {}

    public static Result run(Settings c, PrintStream log) {
        if (c.format() == ExportFormat.NPY)
            throw new LoupeException("store bench-export: --format must be saelens or parquet");
        boolean temporary = c.out() == null;
        Path dir;
        try {
            dir = temporary ? Files.createTempDirectory("loupe-export-bench") : Files.createDirectories(c.out());
        } catch (IOException e) {
            throw new LoupeException("store bench-export: cannot create the bench folder: " + e.getMessage(), e);
        }
        Path store = dir.resolve("store");
        try {
            long storeBytes = writeStore(c, store, log);
            double bestNpy = 0, bestFormat = 0;
            long peak = 0, npyPeak = 0;
            for (int round = 1; round <= c.rounds(); round++) {
                Run npy = export(c, store, dir.resolve("npy"), ExportFormat.NPY);
                Run fmt = export(c, store, dir.resolve(c.format().label()), c.format());
                log.printf(
                        Locale.ROOT,
                        "   round %d: npy %.0f MB/s (%.1f s, cpu %.1f s, peak +%.0f MB), %s %.0f MB/s (%.1f s, cpu %.1f s,"
                                + " peak +%.0f MB, files %.2f GB)%n",
                        round,
                        storeBytes / npy.seconds() / 1e6,
                        npy.seconds(),
                        npy.cpuSeconds(),
                        npy.peakAnon() / 1e6,
                        c.format().label(),
                        storeBytes / fmt.seconds() / 1e6,
                        fmt.seconds(),
                        fmt.cpuSeconds(),
                        fmt.peakAnon() / 1e6,
                        fmt.bytes() / 1e9);
                bestNpy = Math.max(bestNpy, storeBytes / npy.seconds());
                bestFormat = Math.max(bestFormat, storeBytes / fmt.seconds());
                peak = Math.max(peak, fmt.peakAnon());
                npyPeak = Math.max(npyPeak, npy.peakAnon());
            }
            Result r = new Result(bestNpy, bestFormat, npyPeak, peak, storeBytes);
            log.printf(
                    Locale.ROOT,
                    "format=%s rows=%s store_gb=%.2f dtype=%s heap_mb=%d npy_mb_per_s=%.0f %s_mb_per_s=%.0f"
                            + " peak_anon_mb=%.0f ratio_vs_npy=%.3f%n",
                    c.format().label(),
                    c.rows().name().toLowerCase(Locale.ROOT),
                    storeBytes / 1e9,
                    c.dtype().label(),
                    c.heapMb(),
                    bestNpy / 1e6,
                    c.format().label(),
                    bestFormat / 1e6,
                    peak / 1e6,
                    r.ratio());
            return r;
        } finally {
            Folders.deleteTree(store);
            Folders.deleteTree(dir.resolve("npy"));
            Folders.deleteTree(dir.resolve(c.format().label()));
            if (temporary) Folders.deleteTree(dir);
        }
    }

    /** A store of random rows, one hook of width d, written through the store's own writer. */
    private static long writeStore(Settings c, Path dir, PrintStream log) {
        long rowBytes = (long) c.d() * c.dtype().width();
        int seqsPerAppend = Math.max(1, 4096 / c.context());
        long sequences = Math.max(1, (long) (c.storeGb() * 1e9) / (rowBytes * c.context()));
        long appends = Math.max(1, sequences / seqsPerAppend);
        int shardSequences =
                (int) Math.max(seqsPerAppend, (256L << 20) / (c.context() * rowBytes) / seqsPerAppend * seqsPerAppend);
        String hook = "blocks.5.hook_resid_post";
        StoreManifest spec = StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic", "-", "-", 0, c.d(), 0),
                List.of(new StoreManifest.HookInfo(hook, c.d())),
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
        Folders.deleteTree(dir);
        try (StoreWriter w = StoreWriter.open(dir, spec)) {
            for (long i = 0; i < appends; i++) w.append(Map.of(hook, x), tokens);
            w.finish();
        }
        long bytes = appends * seqsPerAppend * c.context() * rowBytes;
        log.printf(
                Locale.ROOT,
                "store: %,d sequences x %d tokens of d=%d %s (%.2f GB) written in %.1f s; npy vs %s (rows: %s),"
                        + " each export in a JVM with -Xmx%dm, alternated %d times%n",
                appends * seqsPerAppend,
                c.context(),
                c.d(),
                c.dtype().label(),
                bytes / 1e9,
                (System.nanoTime() - t0) / 1e9,
                c.format().label(),
                c.rows().name().toLowerCase(Locale.ROOT),
                c.heapMb(),
                c.rounds());
        return bytes;
    }

    private static final Pattern REPORT = Pattern.compile("export_seconds=(\\S+) cpu_seconds=(\\S+) bytes=(\\d+)");

    /** Exports in a child JVM (this one's classpath, capped heap), sampling its anonymous memory; deletes the output. */
    private static Run export(Settings c, Path store, Path out, ExportFormat format) {
        Folders.deleteTree(out);
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx" + c.heapMb() + "m");
        cmd.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
        cmd.add("-Dorg.bytedeco.javacpp.maxbytes=1G");
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Child.class.getName()));
        cmd.addAll(List.of(
                store.toString(), out.toString(), format.label(), c.rows().name()));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            long base = -1, peak = 0;
            StringBuilder output = new StringBuilder();
            var stdout = p.getInputStream();
            while (p.isAlive() || stdout.available() > 0) {
                while (stdout.available() > 0) output.append((char) stdout.read());
                long anon = anonBytes(p.pid());
                if (base < 0 && anon > 0 && output.indexOf("exporting") >= 0) base = anon;
                if (base >= 0) peak = Math.max(peak, anon);
                Thread.sleep(10);
            }
            output.append(new String(stdout.readAllBytes()));
            Matcher m = REPORT.matcher(output);
            if (p.waitFor() != 0 || !m.find())
                throw new LoupeException("store bench-export: the " + format.label() + " export failed:\n" + output);
            return new Run(
                    Double.parseDouble(m.group(1)),
                    Double.parseDouble(m.group(2)),
                    Math.max(0, peak - Math.max(0, base)),
                    Long.parseLong(m.group(3)));
        } catch (IOException e) {
            throw new LoupeException("store bench-export: cannot start a JVM: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("store bench-export: interrupted");
        } finally {
            Folders.deleteTree(out);
        }
    }

    /** {@code RssAnon} of /proc/PID/status: heap and native allocations, not mapped files (0 where absent). */
    static long anonBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status")))
                if (line.startsWith("RssAnon:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException e) {
            // not Linux, or the process just ended: not measured
        }
        return 0;
    }

    /** The exporting JVM: {@code STORE OUT FORMAT ROWS}; prints {@code exporting}, then its time, CPU time and bytes. */
    public static final class Child {
        private Child() {}

        public static void main(String[] args) {
            var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            try (ActivationStore s = ActivationStore.open(Path.of(args[0]))) {
                System.out.println("exporting");
                System.out.flush();
                long cpu0 = os.getProcessCpuTime(), t0 = System.nanoTime();
                ExportResult r = StoreExport.export(
                        s,
                        Path.of(args[1]),
                        ExportFormat.parse(args[2]),
                        ExportOptions.defaults().withRows(ExportOptions.Rows.valueOf(args[3])),
                        total -> ProgressBar.silent());
                System.out.printf(
                        Locale.ROOT,
                        "export_seconds=%.4f cpu_seconds=%.4f bytes=%d%n",
                        (System.nanoTime() - t0) / 1e9,
                        (os.getProcessCpuTime() - cpu0) / 1e9,
                        r.bytes());
            }
        }
    }
}
