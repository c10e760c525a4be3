package dev.loupe.engine.progress;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line terminal progress bar for long work counted in units (steps, tokens, rows), redrawn
 * in place with {@code \r}:
 * {@code train  [#######.............]  36%  360/1000 steps  41.3 steps/s  ETA 0:15  loss 2.314}.
 *
 * <p>Redraws at most every 100 ms so fast loops do not spend their time printing; {@link #close()}
 * draws the final state and ends the line. The free-text {@link #status} (a loss, a shard name)
 * is shown at the end of the line.
 */
public final class ProgressBar implements AutoCloseable {

    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int BAR_WIDTH = 20;

    private final String label;
    private final long total;
    private final String unit;
    private final PrintStream out;
    private final RedrawnLine screen;
    private final LongSupplier nanoClock;
    private final long startNanos;
    private final long startCount;
    private long current;
    private String status = "";
    private long lastDraw = Long.MIN_VALUE;
    private boolean closed;

    /**
     * A bar for {@code total} {@code unit}s (total &le; 0: unknown) that starts at {@code start}
     * (a resumed run); the rate counts only the units done by this bar.
     */
    public ProgressBar(String label, long start, long total, String unit, PrintStream out, LongSupplier nanoClock) {
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.out = out;
        this.screen = new RedrawnLine(out);
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
        this.startCount = start;
        this.current = start;
    }

    /** A bar on standard error, timed with {@link System#nanoTime()}. */
    public static ProgressBar onStderr(String label, long start, long total, String unit) {
        return new ProgressBar(label, start, total, unit, System.err, System::nanoTime);
    }

    /** A bar that prints nothing (tests, quiet runs). */
    public static ProgressBar silent() {
        return new ProgressBar("", 0, 0, "", new PrintStream(PrintStream.nullOutputStream()), System::nanoTime);
    }

    /** {@code done} units are finished; {@code status} (may be empty) is shown after the numbers. */
    public void update(long done, String status) {
        this.current = done;
        this.status = status;
        long now = nanoClock.getAsLong();
        if (lastDraw == Long.MIN_VALUE || now - lastDraw >= REDRAW_NANOS) {
            draw(now);
        }
    }

    /** Units per second since this bar started. */
    public double rate() {
        double seconds = Math.max(1e-9, (nanoClock.getAsLong() - startNanos) / 1e9);
        return (current - startCount) / seconds;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            draw(nanoClock.getAsLong());
            out.print("\n");
            out.flush();
        }
    }

    /** The line as it would be drawn now (without the leading carriage return). */
    String line(long now) {
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = (current - startCount) / seconds;
        StringBuilder sb = new StringBuilder(label).append("  ");
        if (total > 0) {
            double fraction = Math.min(1.0, (double) current / total);
            int filled = (int) Math.floor(fraction * BAR_WIDTH);
            sb.append('[')
                    .append("#".repeat(filled))
                    .append(".".repeat(BAR_WIDTH - filled))
                    .append("] ");
            sb.append(String.format(
                    Locale.ROOT,
                    "%3d%%  %d/%d %s  %s %s/s  ETA %s",
                    (int) Math.floor(fraction * 100),
                    current,
                    total,
                    unit,
                    rateText(rate),
                    unit,
                    eta(rate, total - current)));
        } else {
            sb.append(String.format(Locale.ROOT, "%d %s  %s %s/s", current, unit, rateText(rate), unit));
        }
        if (!status.isEmpty()) {
            sb.append("  ").append(status);
        }
        return sb.toString();
    }

    private void draw(long now) {
        screen.draw(line(now));
        lastDraw = now;
    }

    private static String rateText(double rate) {
        return rate >= 100 ? String.format(Locale.ROOT, "%.0f", rate) : String.format(Locale.ROOT, "%.2f", rate);
    }

    /** {@code m:ss} (or {@code h:mm:ss}) left at {@code rate} units/s, {@code --:--} when unknown. */
    public static String eta(double rate, long remaining) {
        if (remaining <= 0) {
            return "0:00";
        }
        if (rate <= 0) {
            return "--:--";
        }
        long s = (long) Math.ceil(remaining / rate);
        if (s >= 360_000) {
            return "--:--";
        }
        return s >= 3600
                ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
