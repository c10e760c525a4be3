package dev.loupe.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Json;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code manifest.json}: what a store holds and how it was made. The manifest is the store's single
 * source of truth: a shard exists only once it is listed here, and the file is replaced atomically
 * after each shard is committed (see docs/activations-store.md). Serializable, with its parts, for
 * distributed harvests (tasks get the spec and return their shards' entries).
 *
 * @param format     always {@link #FORMAT}
 * @param version    {@link #VERSION}; other versions are refused
 * @param model      which model produced the rows
 * @param hooks      the hook points stored, each with its row width d
 * @param dtype      storage dtype label (f32, f16, bf16)
 * @param contextSize tokens per sequence; every sequence contributes contextSize rows
 * @param corpus     where the tokens came from and how they were chunked
 * @param creation   the remaining parameters a resumed harvest must repeat exactly
 * @param createdAt  ISO-8601 time the store was created
 * @param rows       total committed rows (= tokens)
 * @param sequences  total committed sequences
 * @param shards     committed shards in order
 * @param complete   true once the harvest ran to its end
 */
public record StoreManifest(
        String format,
        int version,
        ModelInfo model,
        List<HookInfo> hooks,
        String dtype,
        int contextSize,
        CorpusInfo corpus,
        CreationInfo creation,
        String createdAt,
        long rows,
        long sequences,
        List<ShardInfo> shards,
        boolean complete)
        implements Serializable {

    public static final String FORMAT = "loupe-activations-store";
    public static final int VERSION = 1;
    public static final String FILE = "manifest.json";

    static final ObjectMapper JSON = Json.fileFormat();

    /** The model: its id as given, a hash of its config and a checksum of its weights. */
    public record ModelInfo(String id, String configHash, String weightsCrc32c, int nLayers, int dModel, int dVocab)
            implements Serializable {}

    /** A stored hook point and the width of its rows (trailing dimensions flattened: hook_z is n_heads·d_head). */
    public record HookInfo(String name, int d) implements Serializable {}

    /** One corpus file: absolute path, kind (text, jsonl, npy) and size. */
    public record SourceInfo(String path, String kind, long bytes) implements Serializable {}

    /**
     * The corpus and its chunking, SAELens's convention: token ids prepended to each chunk
     * ({@code beginBatchToken}), to each document ({@code beginSequenceToken}) and between documents
     * ({@code separatorToken}); null where none.
     */
    public record CorpusInfo(
            List<SourceInfo> sources,
            String tokenizer,
            String textField,
            String textDocs,
            Integer beginBatchToken,
            Integer beginSequenceToken,
            Integer separatorToken)
            implements Serializable {}

    /** Parameters that decide which rows a harvest produces and how they are split into shards. */
    public record CreationInfo(int batchSize, int shardSequences, long maxTokens, int stopAtLayer, String tool)
            implements Serializable {}

    /** A file of a shard: path relative to the store, size, where its data starts, and CRC32C of the data. */
    public record FileEntry(String path, long bytes, long dataOffset, String crc32c) implements Serializable {}

    /**
     * A committed shard: rows [firstRow, firstRow + rows) = sequences [firstSequence, firstSequence + sequences).
     * {@code files} maps each hook name, {@code "rows"} (token ids, sequence, position) and {@code "stats"} to its file.
     */
    public record ShardInfo(
            int index, long firstRow, long rows, long firstSequence, int sequences, Map<String, FileEntry> files)
            implements Serializable {}

    public StoreManifest {
        hooks = List.copyOf(hooks);
        shards = List.copyOf(shards);
    }

    /** A manifest for an empty store. */
    public static StoreManifest create(
            ModelInfo model,
            List<HookInfo> hooks,
            StoreDType dtype,
            int contextSize,
            CorpusInfo corpus,
            CreationInfo creation) {
        return new StoreManifest(
                FORMAT,
                VERSION,
                model,
                hooks,
                dtype.label(),
                contextSize,
                corpus,
                creation,
                java.time.Instant.now().toString(),
                0,
                0,
                List.of(),
                false);
    }

    public StoreDType storeDType() {
        return StoreDType.parse(dtype);
    }

    public List<String> hookNames() {
        return hooks.stream().map(HookInfo::name).toList();
    }

    /** The width of a hook's rows; an unknown hook is an error listing the stored ones. */
    public int d(String hook) {
        for (HookInfo h : hooks) if (h.name().equals(hook)) return h.d();
        throw dev.loupe.engine.hooks.HookNames.unknown("hook in this store", hook, hookNames());
    }

    public StoreManifest withShard(ShardInfo shard) {
        List<ShardInfo> all = new ArrayList<>(shards);
        all.add(shard);
        return with(all, rows + shard.rows(), sequences + shard.sequences(), complete);
    }

    /** The same store with these shard entries (a shard's files rewritten; the row counts stay). */
    public StoreManifest withShards(List<ShardInfo> replaced) {
        return with(replaced, rows, sequences, complete);
    }

    public StoreManifest completed() {
        return with(shards, rows, sequences, true);
    }

    private StoreManifest with(List<ShardInfo> shards, long rows, long sequences, boolean complete) {
        return new StoreManifest(
                format,
                version,
                model,
                hooks,
                dtype,
                contextSize,
                corpus,
                creation,
                createdAt,
                rows,
                sequences,
                shards,
                complete);
    }

    /** Writes {@code dir/manifest.json} atomically (temporary file, fsync, rename). */
    public void write(Path dir) {
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(this);
        } catch (IOException e) {
            throw new LoupeException(dir.resolve(FILE) + ": cannot encode manifest: " + e.getMessage(), e);
        }
        AtomicFileWriter.write(dir.resolve(FILE), ch -> {
            ByteBuffer b = ByteBuffer.wrap(json);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    /** Reads and checks {@code dir/manifest.json}: a Loupe store of this format version, internally consistent. */
    public static StoreManifest read(Path dir) {
        Path file = dir.resolve(FILE);
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new LoupeException(dir + ": not an activations store (no " + FILE + ")");
        } catch (IOException e) {
            throw new LoupeException(
                    file + ": not valid JSON: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
        if (root == null || !FORMAT.equals(root.path("format").asText()))
            throw new LoupeException(file + ": not an activations store manifest (\"format\" is "
                    + (root == null ? "missing" : root.path("format")) + ", expected \"" + FORMAT + "\")");
        int version = root.path("version").asInt(-1);
        if (version != VERSION)
            throw new LoupeException(
                    file + ": store format version " + root.path("version") + "; this Loupe reads version " + VERSION
                            + " only (re-harvest, or use the Loupe version that wrote it)");
        StoreManifest m;
        try {
            m = JSON.treeToValue(root, StoreManifest.class);
        } catch (IOException e) {
            throw new LoupeException(
                    file + ": malformed manifest: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
        m.check(file);
        return m;
    }

    private void check(Path file) {
        storeDType();
        long r = 0, s = 0;
        for (int i = 0; i < shards.size(); i++) {
            ShardInfo sh = shards.get(i);
            if (sh.index() != i
                    || sh.firstRow() != r
                    || sh.firstSequence() != s
                    || sh.rows() != (long) sh.sequences() * contextSize)
                throw new LoupeException(file + ": shard list is inconsistent at shard " + i);
            for (String h : hookNames())
                if (!sh.files().containsKey(h))
                    throw new LoupeException(file + ": shard " + i + " lists no file for hook " + h);
            r += sh.rows();
            s += sh.sequences();
        }
        if (r != rows || s != sequences)
            throw new LoupeException(file + ": totals (" + rows + " rows, " + sequences
                    + " sequences) disagree with the shards (" + r + ", " + s + ")");
    }
}
