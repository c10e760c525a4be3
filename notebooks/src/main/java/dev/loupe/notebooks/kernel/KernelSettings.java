package dev.loupe.notebooks.kernel;

import dev.loupe.engine.LoupeException;
import java.util.Map;

/**
 * Kernel settings, from the environment the kernelspec starts the kernel with.
 *
 * @param cellTimeoutMillis stop a cell after this long; 0 for no limit ({@code LOUPE_CELL_TIMEOUT_S}, default 0;
 *                          {@code %timeout} changes it per session)
 * @param maxOutputBytes    per cell and stream, printed output beyond this is dropped with a note
 *                          ({@code LOUPE_MAX_OUTPUT_BYTES}, default 1 MiB)
 */
public record KernelSettings(long cellTimeoutMillis, long maxOutputBytes) {

    public static final long DEFAULT_MAX_OUTPUT_BYTES = 1 << 20;

    public KernelSettings {
        if (cellTimeoutMillis < 0) throw new LoupeException("cell timeout must be >= 0 ms, got " + cellTimeoutMillis);
        if (maxOutputBytes < 1024)
            throw new LoupeException("LOUPE_MAX_OUTPUT_BYTES must be >= 1024, got " + maxOutputBytes);
    }

    public static KernelSettings fromEnvironment(Map<String, String> env) {
        double timeoutS = number(env, "LOUPE_CELL_TIMEOUT_S", 0);
        double maxOut = number(env, "LOUPE_MAX_OUTPUT_BYTES", DEFAULT_MAX_OUTPUT_BYTES);
        return new KernelSettings(Math.round(timeoutS * 1000), (long) maxOut);
    }

    private static double number(Map<String, String> env, String name, double fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) return fallback;
        try {
            double d = Double.parseDouble(v.trim());
            if (d < 0 || Double.isNaN(d) || Double.isInfinite(d)) throw new NumberFormatException();
            return d;
        } catch (NumberFormatException e) {
            throw new LoupeException(name + ": expected a non-negative number, got '" + v + "'");
        }
    }
}
