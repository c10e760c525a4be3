package dev.loupe.engine.progress;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Loupe's one terminal progress bar, for long work counted in units (steps, tokens, rows) or bytes,
 * redrawn in place with {@code \r}:
 * {@code train  [#######.............]  36%  360/1000 steps  41.3 steps/s  ETA 0:15  loss 2.314}, or
 * for bytes {@code model.safetensors  [###.................]  19%  98.6/522.7 MB  41.3 MB/s  ETA 0:10}.
 *
 * <p>Redraws at most every 100 ms so fast loops do not spend their time printing, padding the line so
 * that a shorter one hides a longer one; {@link #close()} draws the final state and ends the line. The
 * free-text {@link #update status} (a loss, a shard name) is shown at the end of the line. The rate
 * counts only the units done by this bar, not those it started from (a resumed run or download).
 */
public final class ProgressBar implements AutoCloseable {

    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int BAR_WIDTH = 20;
    /** Byte bars (file downloads, one after another) align on a label this wide. */
    private static final int FILE_LABEL_WIDTH = 28;

    private static final String BYTES = "bytes";

    private final String label;
    private final long total;
    private final String unit;
    private final PrintStream out;
    private final LongSupplier nanoClock;
    private final long startNanos;
    private final long startCount;
    private long current;
    private String status = "";
    private long lastDraw = Long.MIN_VALUE;
    private int lastLength;
    private boolean closed;

    /**
     * A bar for {@code total} {@code unit}s (total &le; 0: unknown) that starts at {@code start}
     * (a resumed run). The unit {@code "bytes"} is shown as MB.
     */
    public ProgressBar(String label, long start, long total, String unit, PrintStream out, LongSupplier nanoClock) {
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.out = out;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
        this.startCount = start;
        this.current = start;
    }

    /** A bar on standard error, timed with {@link System#nanoTime()}. */
    public static ProgressBar onStderr(String label, long start, long total, String unit) {
        return new ProgressBar(label, start, total, unit, System.err, System::nanoTime);
    }

    /**
     * A bar for a file of {@code totalBytes} of which {@code start} are already there; the name is cut
     * from the left to a fixed width, so that the bars of files shown one after another line up.
     */
    public static ProgressBar forFile(String name, long start, long totalBytes, PrintStream out, LongSupplier clock) {
        String shown =
                name.length() <= FILE_LABEL_WIDTH ? name : "..." + name.substring(name.length() - FILE_LABEL_WIDTH + 3);
        String padded = String.format(Locale.ROOT, "%-" + FILE_LABEL_WIDTH + "s", shown);
        ProgressBar bar = new ProgressBar(padded, start, totalBytes, BYTES, out, clock);
        bar.draw(bar.startNanos);
        return bar;
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
                    "%3d%%  %s/%s  %s  ETA %s",
                    (int) Math.floor(fraction * 100),
                    count(current, false),
                    count(total, true),
                    rateText(rate),
                    eta(rate, total - current)));
        } else {
            sb.append(count(current, true)).append("  ").append(rateText(rate));
        }
        if (!status.isEmpty()) {
            sb.append("  ").append(status);
        }
        return sb.toString();
    }

    private void draw(long now) {
        String line = line(now);
        out.print("\r" + line + " ".repeat(Math.max(0, lastLength - line.length())));
        out.flush();
        lastLength = line.length();
        lastDraw = now;
    }

    /** {@code 300} / {@code 1100 steps}, or for bytes {@code 60.0} / {@code 100.0 MB}. */
    private String count(long n, boolean withUnit) {
        String number = unit.equals(BYTES) ? String.format(Locale.ROOT, "%.1f", n / 1e6) : Long.toString(n);
        return withUnit ? number + " " + (unit.equals(BYTES) ? "MB" : unit) : number;
    }

    private String rateText(double rate) {
        if (unit.equals(BYTES)) return String.format(Locale.ROOT, "%.1f MB/s", rate / 1e6);
        return (rate >= 100 ? String.format(Locale.ROOT, "%.0f", rate) : String.format(Locale.ROOT, "%.2f", rate)) + " "
                + unit + "/s";
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
