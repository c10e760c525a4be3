package dev.loupe.cli.store;

import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./loupe store info DIR}: the manifest, shards and per-hook statistics. */
@Command(
        name = "info",
        mixinStandardHelpOptions = true,
        description = "Prints a store's manifest, shards and per-hook statistics.")
public final class StoreInfoCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "the store folder")
    Path dir;

    @Option(names = "--per-dim", paramLabel = "HOOK", description = "also the statistics of each dimension of HOOK")
    String perDim;

    @Override
    public Integer call() {
        try (ActivationStore s = ActivationStore.open(dir)) {
            StoreManifest m = s.manifest();
            System.out.println("store      " + dir
                    + (m.complete() ? " (complete)" : " (incomplete: run the same harvest to resume)"));
            System.out.println("model      " + m.model().id() + "  " + m.model().configHash() + "  weights crc32c "
                    + m.model().weightsCrc32c());
            System.out.println("rows       " + m.rows() + " (" + m.sequences() + " sequences x context "
                    + m.contextSize() + ") in " + m.shards().size() + " shards, dtype " + m.dtype());
            for (StoreManifest.HookInfo h : m.hooks()) System.out.println("hook       " + h.name() + "  d=" + h.d());
            for (StoreManifest.SourceInfo src : m.corpus().sources())
                System.out.println("corpus     " + src.path() + " (" + src.kind() + ", " + src.bytes() + " bytes)");
            System.out.println("chunking   begin_batch=" + m.corpus().beginBatchToken() + " begin_sequence="
                    + m.corpus().beginSequenceToken() + " separator="
                    + m.corpus().separatorToken()
                    + (m.corpus().tokenizer() == null
                            ? ""
                            : " tokenizer=" + m.corpus().tokenizer()));
            System.out.println(
                    "created    " + m.createdAt() + " batch=" + m.creation().batchSize() + " shard_sequences="
                            + m.creation().shardSequences() + " max_tokens="
                            + m.creation().maxTokens() + " stop_at_layer="
                            + m.creation().stopAtLayer());
            System.out.println(s.summary().print());
            if (perDim != null)
                System.out.println(s.statistics(perDim).perDimension().printAll());
        }
        return 0;
    }
}
