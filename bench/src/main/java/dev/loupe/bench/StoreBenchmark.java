package dev.loupe.bench;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.HarvestResult;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.ShuffleConfig;
import dev.loupe.store.read.ShuffledStream;
import dev.loupe.store.write.StoreWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code ./loupe store bench}: the three numbers the store must meet, each against its peer measured
 * in the same run on the same machine:
 * <ol>
 *   <li>harvest throughput vs the plain forward pass of the same model up to the last hook layer
 *       (same batches, alternated, best of three each): ratio ≥ 0.9;</li>
 *   <li>store write bandwidth (synthetic rows through {@link StoreWriter}, shards fsynced) vs {@code dd
 *       bs=1M conv=fdatasync} of as many bytes into the same folder: ratio ≥ 0.7;</li>
 *   <li>shuffled streaming through a 1M-row mixing buffer from page cache: ≥ 1 GB/s (stored bytes).</li>
 * </ol>
 * Everything is written under {@code --out} (default: a new folder in the system temp folder) and deleted afterwards.
 */
public final class StoreBenchmark {
    /** Alternated rounds of plain forward and harvest; the best of each counts (the machine's noise is one-sided). */
    private static final int ROUNDS = 3;

    private StoreBenchmark() {}

    /**
     * The model {@code shape} (gpt2-small or tiny) and {@code hook} (null: the middle block's
     * resid_post), {@code batches} harvested batches of batch x context tokens stored as {@code dtype},
     * {@code streamRows} rows written and then streamed through a {@code bufferRows} mixing buffer,
     * everything under {@code out} (null: a new temporary folder).
     */
    public record Settings(
            Path out,
            String shape,
            String hook,
            int batch,
            int context,
            int batches,
            String dtype,
            long bufferRows,
            long streamRows) {}

    public static void run(Settings a) {
        ModelConfig cfg =
                switch (a.shape()) {
                    case "gpt2-small" -> ModelConfig.gpt2Small();
                    case "tiny" -> ModelConfig.builder()
                            .dModel(128)
                            .nLayers(2)
                            .nHeads(4)
                            .dVocab(1000)
                            .nCtx(256)
                            .build();
                    default -> throw new LoupeException("store bench: --shape must be gpt2-small or tiny");
                };
        String hook = a.hook() != null ? a.hook() : "blocks." + (cfg.nLayers() / 2 - 1) + ".hook_resid_post";
        int batch = a.batch(), context = a.context(), batches = a.batches();
        StoreDType dtype = StoreDType.parse(a.dtype());
        long rows = a.streamRows();
        long bufferRows = a.bufferRows();
        Path out;
        try {
            out = a.out() != null ? a.out() : Files.createTempDirectory("loupe-store-bench");
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new LoupeException("store bench: cannot create the bench folder: " + e.getMessage(), e);
        }
        System.out.printf(
                Locale.ROOT,
                "bench folder %s; %d threads%n",
                out,
                Nd4j.getEnvironment().maxMasterThreads());
        try {
            double harvestRatio = harvestVsForward(cfg, hook, batch, context, batches, dtype, out);
            double writeRatio = writeVsDd(cfg.dModel(), rows, context, dtype, out);
            double gbps = shuffled(out.resolve("written"), bufferRows);
            System.out.printf(
                    Locale.ROOT,
                    "harvest_vs_forward=%.3f (>= 0.9)  write_vs_dd=%.3f (>= 0.7)  shuffle_gb_per_s=%.2f (>= 1.0)%n",
                    harvestRatio,
                    writeRatio,
                    gbps);
        } finally {
            deleteTree(out.resolve("harvest"));
            deleteTree(out.resolve("written"));
            deleteTree(out.resolve("corpus.npy"));
            if (a.out() == null) deleteTree(out);
        }
    }

    private static double harvestVsForward(
            ModelConfig cfg, String hook, int batch, int context, int batches, StoreDType dtype, Path out) {
        HookedTransformer model = HookedTransformer.random(cfg, 0);
        int sequences = batch * batches;
        Random r = new Random(0);
        int[] ids = new int[sequences * context];
        for (int i = 0; i < ids.length; i++) ids[i] = 2 + r.nextInt(cfg.dVocab() - 2);
        Path corpusFile = out.resolve("corpus.npy");
        NpyWriter.write(corpusFile, Nd4j.createFromArray(ids));
        Corpus corpus = Corpus.of(List.of(corpusFile), null, "text", Corpus.TextDocs.LINES);
        HarvestConfig hc =
                new HarvestConfig(List.of(hook), context, batch, dtype, (long) sequences * context, 256, 1, null, 1);
        List<int[][]> forwardBatches = new ArrayList<>();
        Chunker ch = new Chunker(corpus.documents(), context, 1, null, 1);
        while (ch.hasNext() && forwardBatches.size() < batches) {
            int[][] b = new int[batch][];
            for (int i = 0; i < batch && ch.hasNext(); i++) b[i] = ch.next();
            if (b[batch - 1] != null) forwardBatches.add(b);
        }
        int stop = dev.loupe.engine.hooks.HookNames.layerOf(dev.loupe.engine.hooks.HookNames.actName(hook, -1)) + 1;
        System.out.printf(
                Locale.ROOT,
                "1. harvest vs plain forward: %s (%,d parameters) up to block %d, hook %s, %d batches of %d x %d, dtype %s%n",
                cfg.nLayers() == 12 ? "gpt2-small shape" : "tiny shape",
                cfg.parameterCount(),
                stop - 1,
                hook,
                forwardBatches.size(),
                batch,
                context,
                dtype.label());
        model.forward(ForwardRequest.of(Tokens.of(forwardBatches.get(0)))
                        .stopAtLayer(stop)
                        .build())
                .close(); // warm-up
        double bestPlain = 0, bestHarvest = 0;
        for (int round = 0; round < ROUNDS; round++) {
            long t0 = System.nanoTime();
            for (int[][] b : forwardBatches)
                model.forward(ForwardRequest.of(Tokens.of(b)).stopAtLayer(stop).build())
                        .close();
            double plain = (double) forwardBatches.size() * batch * context / ((System.nanoTime() - t0) / 1e9);
            deleteTree(out.resolve("harvest"));
            HarvestResult hr = Harvester.run(
                    model, "bench", corpus, null, hc, out.resolve("harvest"), Harvester.ProgressFactory.silent());
            System.out.printf(
                    Locale.ROOT,
                    "   round %d: plain forward %.1f tokens/s, harvest %.1f tokens/s%n",
                    round + 1,
                    plain,
                    hr.tokensPerSecond());
            bestPlain = Math.max(bestPlain, plain);
            bestHarvest = Math.max(bestHarvest, hr.tokensPerSecond());
        }
        double ratio = bestHarvest / bestPlain;
        System.out.printf(
                Locale.ROOT,
                "   best: plain %.1f tokens/s, harvest %.1f tokens/s: ratio %.3f%n",
                bestPlain,
                bestHarvest,
                ratio);
        return ratio;
    }

    private static double writeVsDd(int d, long rows, int context, StoreDType dtype, Path out) {
        long bytes = rows * d * dtype.width();
        long mib = Math.max(1, bytes >> 20);
        System.out.printf(
                Locale.ROOT,
                "2. write bandwidth: %,d rows of d=%d %s (%.2f GB) vs dd of %d MiB%n",
                rows,
                d,
                dtype.label(),
                bytes / 1e9,
                mib);
        Path ddFile = out.resolve("dd.bin");
        double ddSeconds;
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(
                            "dd", "if=/dev/zero", "of=" + ddFile, "bs=1M", "count=" + mib, "conv=fdatasync")
                    .redirectErrorStream(true)
                    .start();
            String msg = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() != 0) throw new LoupeException("store bench: dd failed: " + msg);
            ddSeconds = (System.nanoTime() - t0) / 1e9;
            Files.deleteIfExists(ddFile);
        } catch (IOException e) {
            throw new LoupeException("store bench: cannot run dd: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("store bench: interrupted");
        }
        double ddRate = (mib << 20) / ddSeconds;
        int seqsPerAppend = Math.max(1, 4096 / context);
        int shardSequences = (int) Math.max(
                seqsPerAppend, (256L << 20) / ((long) context * d * dtype.width()) / seqsPerAppend * seqsPerAppend);
        StoreManifest spec = StoreManifest.create(
                new StoreManifest.ModelInfo("synthetic", "-", "-", 0, d, 0),
                List.of(new StoreManifest.HookInfo("h", d)),
                dtype,
                context,
                new StoreManifest.CorpusInfo(List.of(), null, null, null, null, null, null),
                new StoreManifest.CreationInfo(seqsPerAppend, shardSequences, 0, 0, "bench"));
        INDArray x =
                Nd4j.rand(DataType.FLOAT, (long) seqsPerAppend * context, d).subi(0.5); // [rows per append, d]
        int[][] tokens = new int[seqsPerAppend][context];
        long appends = (rows + (long) seqsPerAppend * context - 1) / ((long) seqsPerAppend * context);
        Path dir = out.resolve("written");
        deleteTree(dir);
        long t0 = System.nanoTime();
        try (StoreWriter w = StoreWriter.open(dir, spec)) {
            for (long i = 0; i < appends; i++) w.append(Map.of("h", x), tokens);
            w.finish();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long written = appends * seqsPerAppend * context * d * dtype.width();
        double rate = written / seconds;
        System.out.printf(
                Locale.ROOT,
                "   dd conv=fdatasync: %.0f MB/s; store writer (cast, statistics, CRC32C, fsync per shard): %.0f MB/s: ratio %.3f%n",
                ddRate / 1e6,
                rate / 1e6,
                rate / ddRate);
        return rate / ddRate;
    }

    private static double shuffled(Path dir, long bufferRows) {
        try (ActivationStore store = ActivationStore.open(dir)) {
            String hook = store.hooks().get(0);
            long rowBytes = (long) store.d(hook) * store.dtype().width();
            // Read every shard once so the stream runs from page cache.
            long t0 = System.nanoTime();
            ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20);
            for (StoreManifest.ShardInfo s : store.manifest().shards()) {
                try (FileChannel ch =
                        FileChannel.open(dir.resolve(s.files().get(hook).path()), StandardOpenOption.READ)) {
                    while (ch.read(buf.clear()) > 0) {}
                } catch (IOException e) {
                    throw new LoupeException("store bench: " + e.getMessage(), e);
                }
            }
            double warm = store.rows() * rowBytes / ((System.nanoTime() - t0) / 1e9);
            System.out.printf(
                    Locale.ROOT,
                    "3. shuffled stream: %,d rows (%.2f GB stored), buffer %,d rows, batches of 4096; sequential read %.2f GB/s%n",
                    store.rows(),
                    store.rows() * rowBytes / 1e9,
                    Math.min(bufferRows, store.rows()),
                    warm / 1e9);
            long n = 0;
            t0 = System.nanoTime();
            try (ShuffledStream s = store.shuffled(hook, ShuffleConfig.of(4096, bufferRows, 0))) {
                while (s.hasNext()) {
                    INDArray b = s.next();
                    n += b.size(0);
                    NativeBytes.free(b);
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            double gbps = n * rowBytes / seconds / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "   %,d rows in %.2f s (buffer fill included): %.2f GB/s stored bytes, %.2f GB/s as float32 batches%n",
                    n,
                    seconds,
                    gbps,
                    n * (long) store.d(hook) * 4 / seconds / 1e9);
            return gbps;
        }
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        } catch (IOException e) {
            System.err.println("store bench: could not delete " + p + ": " + e.getMessage());
        }
    }
}
