package dev.loupe.engine.hub;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.progress.RedrawnLine;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar redrawn in place with {@code \r}:
 * {@code model.safetensors  [#######.............]  36%  190.2/522.7 MB  41.3 MB/s  ETA 0:08}.
 *
 * <p>Redraws at most every 100 ms so a fast download does not spend its time printing. The speed
 * counts only bytes moved in this attempt (not resumed ones), and the line ends with a newline when
 * the download finishes.
 */
public final class TerminalProgressBar implements DownloadProgress {

    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int BAR_WIDTH = 20;
    private static final int NAME_WIDTH = 28;

    private final PrintStream out;
    private RedrawnLine screen;
    private final LongSupplier nanoClock;
    private String name = "";
    private long total;
    private long resumedFrom;
    private long current;
    private long startNanos;
    private long lastDraw;

    /** Draws on {@code out}, timing with {@code nanoClock} (e.g. {@code System::nanoTime}). */
    public TerminalProgressBar(PrintStream out, LongSupplier nanoClock) {
        this.out = out;
        this.nanoClock = nanoClock;
    }

    @Override
    public void started(String filename, long totalBytes, long resumed) {
        name = filename.length() <= NAME_WIDTH
                ? filename
                : "..." + filename.substring(filename.length() - NAME_WIDTH + 3);
        total = totalBytes;
        resumedFrom = resumed;
        current = resumed;
        startNanos = nanoClock.getAsLong();
        lastDraw = Long.MIN_VALUE;
        screen = new RedrawnLine(out);
        draw(startNanos);
    }

    @Override
    public void advanced(long bytesSoFar) {
        current = bytesSoFar;
        long now = nanoClock.getAsLong();
        if (lastDraw == Long.MIN_VALUE || now - lastDraw >= REDRAW_NANOS) {
            draw(now);
        }
    }

    @Override
    public void finished(boolean complete) {
        draw(nanoClock.getAsLong());
        out.print(complete ? "\n" : "  (interrupted)\n");
        out.flush();
    }

    /** The line as it would be drawn now (without the leading carriage return). */
    String line(long now) {
        double fraction = total > 0 ? Math.min(1.0, (double) current / total) : 1.0;
        int filled = (int) Math.floor(fraction * BAR_WIDTH);
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = (current - resumedFrom) / seconds;
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-" + NAME_WIDTH + "s [", name));
        sb.append("#".repeat(filled)).append(".".repeat(BAR_WIDTH - filled)).append("] ");
        sb.append(String.format(
                Locale.ROOT,
                "%3d%%  %s/%s MB  %.1f MB/s  ETA %s",
                (int) Math.floor(fraction * 100),
                mb(current),
                mb(total),
                rate / 1e6,
                ProgressBar.eta(rate, total - current)));
        return sb.toString();
    }

    private void draw(long now) {
        screen.draw(line(now));
        lastDraw = now;
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / 1e6);
    }
}
