package dev.loupe.spark.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.corpus.Corpus;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
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

    /**
     * The corpus the spec names: the same files (absolute paths) and tokenizer as on the driver. Each
     * file must exist on this node with the size the driver saw ({@code where} names the node in the
     * error): a corpus path only the driver sees, or a file changed since the plan, is refused here
     * rather than read as a different corpus.
     */
    public Corpus corpus(Tokenizer tokenizer, String where) {
        StoreManifest.CorpusInfo c = spec.corpus();
        for (StoreManifest.SourceInfo s : c.sources()) {
            Path file = Path.of(s.path());
            long size;
            try {
                size = Files.size(file);
            } catch (IOException e) {
                throw new LoupeException(where + ": corpus file " + file + " is not readable here (" + e
                        + "): the corpus must be on a filesystem that every executor and the driver share");
            }
            if (size != s.bytes())
                throw new LoupeException(where + ": corpus file " + file + " has " + size + " bytes here, the driver"
                        + " planned the harvest with " + s.bytes() + " (changed since, or another file at that path)");
        }
        List<Path> files = c.sources().stream().map(s -> Path.of(s.path())).toList();
        Corpus.TextDocs docs = c.textDocs() == null
                ? Corpus.TextDocs.LINES
                : Corpus.TextDocs.valueOf(c.textDocs().toUpperCase(Locale.ROOT));
        return Corpus.of(files, tokenizer, c.textField(), docs);
    }
}
