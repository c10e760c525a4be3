package dev.loupe.store.export;

import dev.loupe.engine.LoupeException;
import java.util.List;

/**
 * How a store is exported.
 *
 * @param hooks      hooks to export, in this order; empty = every hook of the store
 * @param rows       one row per sequence (Parquet's default, SAELens's only layout) or per token
 * @param keepDType  keep an f16 store's float16 (Arrow/Parquet/numpy have no bfloat16: bf16 always
 *                   exports as float32, exactly); otherwise activations export as float32
 * @param shardBytes bound on each data file's size (saelens, parquet); 500 MB like {@code datasets}'
 *                   {@code max_shard_size}. A file holds whole sequences, at least one.
 */
public record ExportOptions(List<String> hooks, Rows rows, boolean keepDType, long shardBytes) {
    /** {@code datasets.config.MAX_SHARD_SIZE}: "500MB". */
    public static final long DEFAULT_SHARD_BYTES = 500_000_000L;

    /** Rows of a Parquet export: a sequence ({@code [context, d]} per hook) or a token ({@code [d]}). */
    public enum Rows {
        SEQUENCES,
        TOKENS;

        public static Rows parse(String s) {
            return switch (s == null ? "" : s.trim()) {
                case "sequences" -> SEQUENCES;
                case "tokens" -> TOKENS;
                default -> throw new LoupeException("--rows '" + s + "': expected sequences or tokens");
            };
        }
    }

    public ExportOptions {
        hooks = List.copyOf(hooks);
        if (rows == null) throw new LoupeException("export: rows must be SEQUENCES or TOKENS");
        if (shardBytes < 1) throw new LoupeException("export: the shard size must be positive, got " + shardBytes);
    }

    /** Every hook, a row per sequence, float32, 500 MB files. */
    public static ExportOptions defaults() {
        return new ExportOptions(List.of(), Rows.SEQUENCES, false, DEFAULT_SHARD_BYTES);
    }

    public ExportOptions withHooks(List<String> h) {
        return new ExportOptions(h, rows, keepDType, shardBytes);
    }

    public ExportOptions withRows(Rows r) {
        return new ExportOptions(hooks, r, keepDType, shardBytes);
    }

    public ExportOptions withKeepDType(boolean keep) {
        return new ExportOptions(hooks, rows, keep, shardBytes);
    }

    public ExportOptions withShardBytes(long bytes) {
        return new ExportOptions(hooks, rows, keepDType, bytes);
    }
}
