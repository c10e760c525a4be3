package dev.loupe.store.export;

import dev.loupe.engine.LoupeException;
import java.util.Locale;

/** What a store exports to. */
public enum ExportFormat {
    /** {@code <hook>.npy} [rows, d] plus {@code tokens.npy}, {@code sequence.npy}, {@code position.npy}: numpy. */
    NPY,
    /**
     * A Hugging Face {@code datasets} folder ({@code save_to_disk} layout) as SAELens's
     * {@code CacheActivationsRunner} writes it: one row per sequence, a column {@code Array2D(context, d)}
     * per hook and {@code token_ids}; SAELens trains from it with {@code cached_activations_path}.
     */
    SAELENS,
    /** Parquet files: fixed-size list columns per hook plus {@code token_ids}, {@code sequence}, {@code position}. */
    PARQUET;

    /** As on the command line: npy, saelens, parquet. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ExportFormat parse(String s) {
        for (ExportFormat f : values()) if (f.label().equalsIgnoreCase(s == null ? "" : s.trim())) return f;
        throw new LoupeException("--format '" + s + "': expected npy, saelens or parquet");
    }
}
