package dev.loupe.store.export;

import java.nio.file.Path;
import java.util.List;

/**
 * A finished export.
 *
 * @param out     the folder, complete
 * @param files   its files, in order
 * @param bytes   their total size
 * @param dtype   the activations' dtype in the files (float32 or float16)
 * @param seconds wall time, fsync and rename included
 * @param notes   what the user should know (a bf16 store exported as float32 under keepDType)
 */
public record ExportResult(Path out, List<Path> files, long bytes, String dtype, double seconds, List<String> notes) {
    public ExportResult {
        files = List.copyOf(files);
        notes = List.copyOf(notes);
    }

    /** Bytes written per second. */
    public double bytesPerSecond() {
        return bytes / Math.max(1e-9, seconds);
    }
}
