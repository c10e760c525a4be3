package dev.loupe.store.export;

import dev.loupe.store.StoreManifest.FileEntry;
import dev.loupe.store.StoreManifest.ShardInfo;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The {@code _fingerprint} of an exported {@code datasets} folder: 16 hex digits, as {@code datasets}'
 * own fingerprints, that change whenever the content would. {@code datasets} keys its cache files
 * ({@code map}, {@code filter} results) by it, so two different exports must never share one: it
 * hashes the store's model and every shard file's CRC32C, the hooks, dtype and format.
 */
final class ExportFingerprint {
    private ExportFingerprint() {}

    static String of(ExportPlan plan, ExportFormat format) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        var m = plan.store().manifest();
        StringBuilder s = new StringBuilder("loupe-export\n")
                .append(format.label())
                .append('\n')
                .append(m.model().configHash())
                .append('\n')
                .append(m.model().weightsCrc32c())
                .append('\n')
                .append(plan.dtype())
                .append('\n')
                .append(plan.rows())
                .append('\n')
                .append(String.join(",", plan.hooks()))
                .append('\n');
        for (ShardInfo shard : m.shards())
            for (Map.Entry<String, FileEntry> f : shard.files().entrySet())
                s.append(shard.index())
                        .append(' ')
                        .append(f.getKey())
                        .append(' ')
                        .append(f.getValue().crc32c())
                        .append('\n');
        byte[] digest = sha.digest(s.toString().getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(digest, 0, 8);
    }
}
