package dev.loupe.engine.hub;

import java.net.URI;
import java.util.regex.Pattern;

/**
 * What the Hub says about one file at one revision, from the headers of a {@code HEAD} on its
 * resolve URL: the commit the revision points at ({@code X-Repo-Commit}), the content's ETag
 * ({@code X-Linked-Etag} for LFS files — their SHA-256 —, else {@code ETag}, the git blob hash) and
 * its size in bytes ({@code X-Linked-Size}, else {@code Content-Length}).
 *
 * @param commit the 40-hex commit hash
 * @param etag the normalized ETag (no quotes, no {@code W/}); the blob's name in the cache
 * @param size the file's length in bytes
 * @param url the resolve URL the metadata was asked for
 */
public record FileMetadata(String commit, String etag, long size, URI url) {

    private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");

    /** Whether the ETag is a SHA-256 of the content (64 hex digits, as for LFS files), which downloads are checked against. */
    public boolean isSha256() {
        return SHA256.matcher(etag).matches();
    }
}
