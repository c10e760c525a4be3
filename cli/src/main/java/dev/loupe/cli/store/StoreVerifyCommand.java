package dev.loupe.cli.store;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code ./loupe store verify DIR}: every shard's CRC32C; a bad shard is named, exit 2. */
@Command(
        name = "verify",
        mixinStandardHelpOptions = true,
        description = "Checks every shard's CRC32C (exit 2 naming a bad shard).")
public final class StoreVerifyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "the store folder")
    Path dir;

    @Override
    public Integer call() {
        long bytes = 0;
        StoreManifest m = StoreManifest.read(dir);
        for (StoreManifest.ShardInfo s : m.shards())
            for (StoreManifest.FileEntry f : s.files().values()) bytes += f.bytes();
        try (ProgressBar bar = ProgressBar.onStderr("verify", 0, bytes, "bytes");
                ActivationStore s = ActivationStore.open(dir, Verify.FULL, bar)) {
            System.out.println(dir + ": ok, " + s.manifest().shards().size() + " shards, " + s.rows()
                    + " rows, every CRC32C matches");
        }
        return 0;
    }
}
