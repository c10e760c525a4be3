package dev.loupe.spark.harvest;

import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Corpus;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What every task of a distributed harvest shares: the store's folder (absolute, on a filesystem
 * every executor reaches), its spec (hooks, dtype, context, corpus, chunking, shard size, and the
 * model's identity), and where executors find the model: {@code modelPath} when it exists on the
 * executor (an absolute path on the shared filesystem), else {@code modelId} (a zoo model, or a Hub
 * id each executor resolves in its own cache).
 */
public record HarvestPlan(String store, StoreManifest spec, String modelId, String modelPath) implements Serializable {

    /** The corpus the spec names: the same files (absolute paths) and tokenizer as on the driver. */
    public Corpus corpus(Tokenizer tokenizer) {
        StoreManifest.CorpusInfo c = spec.corpus();
        List<Path> files = c.sources().stream().map(s -> Path.of(s.path())).toList();
        Corpus.TextDocs docs = c.textDocs() == null
                ? Corpus.TextDocs.LINES
                : Corpus.TextDocs.valueOf(c.textDocs().toUpperCase(Locale.ROOT));
        return Corpus.of(files, tokenizer, c.textField(), docs);
    }
}
