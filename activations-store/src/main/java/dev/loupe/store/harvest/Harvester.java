package dev.loupe.store.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.HookNames;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.NativeBytes;
import dev.loupe.store.ShardChecksum;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.write.StoreWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs a model over a corpus and stores the activations of the requested hooks: one forward pass
 * per batch, cached for exactly those hooks, stopped after the last block any of them is in. A run
 * into a folder that holds an unfinished store of the same harvest resumes it: the corpus is
 * chunked again (chunking is deterministic) and the sequences already stored are skipped, so the
 * finished store is the one an uninterrupted run would have written, row for row.
 */
public final class Harvester {
    private Harvester() {}

    /**
     * Harvests into {@code out}, computing batches on as many threads as there are processors.
     * {@code progress} makes the progress bar given (start, total) in tokens.
     * @param modelId how the model is named in the manifest (the path or Hub id it was loaded from)
     */
    public static HarvestResult run(
            HookedTransformer model,
            String modelId,
            Corpus corpus,
            String tokenizerName,
            HarvestConfig cfg,
            Path out,
            ProgressFactory progress) {
        return run(model, modelId, corpus, tokenizerName, cfg, out, progress, defaultThreads());
    }

    /** The threads a harvest computes batches on by default: one per processor. */
    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    /**
     * Harvests into {@code out}, computing {@code threads} batches at once (each single-threaded, see
     * {@link HarvestWorkers}: the store is the same bytes whatever the thread count).
     */
    public static HarvestResult run(
            HookedTransformer model,
            String modelId,
            Corpus corpus,
            String tokenizerName,
            HarvestConfig cfg,
            Path out,
            ProgressFactory progress,
            int threads) {
        StoreManifest spec = spec(model, modelId, corpus, tokenizerName, cfg);
        long maxSequences = maxSequences(cfg);
        try (StoreWriter writer = StoreWriter.open(out, spec)) {
            long done = writer.committedSequences();
            if (writer.complete())
                return new HarvestResult(done, done, writer.manifest().rows(), 0, 0);
            // A first pass over the corpus counts its sequences (for an exact ETA) and finds bad input before any
            // compute.
            long total = chunker(corpus, cfg).skip(maxSequences);
            Chunker chunks = chunker(corpus, cfg);
            chunks.skip(done);
            HarvestWorkers workers =
                    new HarvestWorkers(model, spec.hookNames(), spec.creation().stopAtLayer());
            long t0 = System.nanoTime();
            long newRows;
            try (ProgressBar bar = progress.create(done * cfg.contextSize(), total * cfg.contextSize())) {
                long[] seq = {done};
                newRows = cfg.contextSize()
                        * workers.run(
                                HarvestWorkers.batches(chunks, cfg.batchSize(), total - done),
                                done,
                                threads,
                                (acts, ids) -> {
                                    writer.append(acts, ids);
                                    seq[0] += ids.length;
                                    bar.update(
                                            seq[0] * cfg.contextSize(),
                                            "shard "
                                                    + writer.manifest().shards().size());
                                });
                writer.finish();
                bar.update(seq[0] * cfg.contextSize(), "complete");
            } catch (java.io.IOException e) {
                throw new LoupeException(
                        "harvest: " + e.getMessage(), e); // interrupted; write failures are LoupeExceptions
            }
            StoreManifest m = writer.manifest();
            return new HarvestResult(done, m.sequences(), m.rows(), newRows, (System.nanoTime() - t0) / 1e9);
        }
    }

    /**
     * The store a harvest of {@code corpus} writes, before any row: the model's identity, the hooks
     * (full names, with their widths), dtype, context, corpus and chunking, and the shard size in
     * sequences (whole batches, about {@code cfg.shardMb()} MiB). Checks the configuration against
     * the model. A distributed harvest plans its tasks from it.
     */
    public static StoreManifest spec(
            HookedTransformer model, String modelId, Corpus corpus, String tokenizerName, HarvestConfig cfg) {
        ModelConfig mc = model.config();
        if (cfg.contextSize() > mc.nCtx())
            throw new LoupeException(
                    "harvest: --context " + cfg.contextSize() + " is longer than the model's n_ctx " + mc.nCtx());
        List<String> hooks = resolveHooks(model, cfg.hooks());
        int stop = stopAtLayer(hooks, mc.nLayers());
        Map<String, Integer> widths = widths(model, hooks, stop);
        List<StoreManifest.HookInfo> hookInfos = hooks.stream()
                .map(h -> new StoreManifest.HookInfo(h, widths.get(h)))
                .toList();

        long bytesPerSequence = 0;
        for (int w : widths.values())
            bytesPerSequence += (long) cfg.contextSize() * w * cfg.dtype().width();
        long batches = Math.max(1, (long) (cfg.shardMb() * (1 << 20)) / (bytesPerSequence * cfg.batchSize()));
        int shardSequences = Math.toIntExact(batches * cfg.batchSize());
        for (int w : widths.values())
            if ((long) shardSequences * cfg.contextSize() * w * cfg.dtype().width() > Integer.MAX_VALUE - (1 << 16))
                throw new LoupeException("harvest: one batch of --batch " + cfg.batchSize()
                        + " sequences is over 2 GiB for a hook; lower --batch");

        StoreManifest.CorpusInfo corpusInfo = new StoreManifest.CorpusInfo(
                corpus.describe(),
                tokenizerName,
                corpus.hasText() ? corpus.textField() : null,
                corpus.hasText() ? corpus.textDocs().name().toLowerCase() : null,
                cfg.beginBatch(),
                cfg.beginSequence(),
                cfg.separator());
        return StoreManifest.create(
                modelInfo(model, modelId),
                hookInfos,
                cfg.dtype(),
                cfg.contextSize(),
                corpusInfo,
                new StoreManifest.CreationInfo(cfg.batchSize(), shardSequences, cfg.maxTokens(), stop, "loupe 0.1.0"));
    }

    /** The sequences {@code --max-tokens} allows (all when 0). */
    public static long maxSequences(HarvestConfig cfg) {
        return cfg.maxTokens() == 0 ? Long.MAX_VALUE : cfg.maxTokens() / cfg.contextSize();
    }

    /** A chunker at the start of the corpus, chunking as the harvest asks. */
    public static Chunker chunker(Corpus corpus, HarvestConfig cfg) {
        return new Chunker(
                corpus.documents(), cfg.contextSize(), cfg.beginBatch(), cfg.beginSequence(), cfg.separator());
    }

    /** Makes the progress bar for a harvest: start and total in tokens. */
    @FunctionalInterface
    public interface ProgressFactory {
        ProgressBar create(long startTokens, long totalTokens);

        static ProgressFactory silent() {
            return (s, t) -> ProgressBar.silent();
        }

        static ProgressFactory stderr() {
            return (s, t) -> ProgressBar.onStderr("harvest", s, t, "tokens");
        }
    }

    /** Full names, in the order given, each a per-token hook point of this model. */
    static List<String> resolveHooks(HookedTransformer model, List<String> requested) {
        List<String> known = model.hookNames();
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (String h : requested) {
            String full = HookNames.actName(h.trim(), -1);
            if (!known.contains(full)) throw HookNames.unknownHook(h.trim(), known);
            if (full.endsWith("hook_pattern") || full.endsWith("hook_attn_scores"))
                throw new LoupeException("hook " + full + " is [batch, head, query, key], not one row per token; "
                        + "store per-token hooks (resid_*, *_out, q/k/v/z, mlp.hook_*, ln*.hook_*)");
            out.add(full);
        }
        return List.copyOf(out);
    }

    /** Blocks to run: up to and including the last block any hook is in; all of them for ln_final/unembed hooks. */
    static int stopAtLayer(List<String> hooks, int nLayers) {
        int stop = 0;
        for (String h : hooks) {
            int l = HookNames.layerOf(h);
            if (l >= 0) stop = Math.max(stop, l + 1);
            else if (!h.equals("hook_embed") && !h.equals("hook_pos_embed")) stop = nLayers;
        }
        return stop;
    }

    /** d of each hook: its shape after [batch, pos], flattened (one tiny forward pass to find out). */
    private static Map<String, Integer> widths(HookedTransformer model, List<String> hooks, int stop) {
        Map<String, Integer> out = new LinkedHashMap<>();
        ForwardRequest req = ForwardRequest.of(Tokens.of(new int[] {0}))
                .cache(ActivationFilter.names(hooks.toArray(String[]::new)))
                .stopAtLayer(stop)
                .build();
        try (ForwardResult r = model.forward(req)) {
            for (String h : hooks) {
                long[] s = r.cache().get(h).shape();
                long d = 1;
                for (int i = 2; i < s.length; i++) d *= s[i];
                out.put(h, Math.toIntExact(d));
            }
        }
        return out;
    }

    /** The model's id as given, SHA-256 of its config (JSON) and CRC32C of its weights (by name order). */
    public static StoreManifest.ModelInfo modelInfo(HookedTransformer model, String id) {
        String configHash;
        try {
            byte[] json = Json.write(model.config()).getBytes(StandardCharsets.UTF_8);
            configHash = "sha256:"
                    + HexFormat.of()
                            .formatHex(MessageDigest.getInstance("SHA-256").digest(json));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        CRC32C crc = new CRC32C();
        for (Map.Entry<String, INDArray> e : new TreeMap<>(model.weights().asMap()).entrySet()) {
            crc.update(e.getKey().getBytes(StandardCharsets.UTF_8));
            INDArray a = e.getValue();
            INDArray dense = NativeBytes.viewable(a) ? a : a.dup('c');
            crc.update(NativeBytes.of(dense));
            java.lang.ref.Reference.reachabilityFence(dense);
        }
        ModelConfig c = model.config();
        return new StoreManifest.ModelInfo(
                id, configHash, ShardChecksum.hex(crc.getValue()), c.nLayers(), c.dModel(), c.dVocab());
    }
}
