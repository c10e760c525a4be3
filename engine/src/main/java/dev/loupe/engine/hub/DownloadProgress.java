package dev.loupe.engine.hub;

import dev.loupe.engine.progress.ProgressBar;
import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * Told how a file download advances, so it can be shown. Calls come from the downloading thread,
 * in the order {@code started}, any number of {@code advanced}, {@code finished}.
 */
public interface DownloadProgress {

    /** Shows nothing. */
    DownloadProgress NONE = new DownloadProgress() {
        @Override
        public void started(String filename, long totalBytes, long resumedFrom) {}

        @Override
        public void advanced(long bytesSoFar) {}

        @Override
        public void finished(boolean complete) {}
    };

    /**
     * A download of {@code filename} ({@code totalBytes} in all) begins; {@code resumedFrom}
     * bytes are already on disk from an earlier, cut-off attempt.
     */
    void started(String filename, long totalBytes, long resumedFrom);

    /** {@code bytesSoFar} of the file (including resumed bytes) are on disk. */
    void advanced(long bytesSoFar);

    /** The download ended: {@code complete} if all bytes arrived, false if it failed. */
    void finished(boolean complete);

    /**
     * A bar on standard error if {@code settings} allow progress bars and the process seems to run
     * on a terminal, else {@link #NONE}.
     *
     * <p>Java cannot ask whether standard error itself is a terminal; {@link System#console()}
     * (non-null only when standard input and output are both terminals) and {@code TERM != dumb}
     * stand in for it. Redirected output or CI therefore stays quiet.
     */
    static DownloadProgress forTerminal(HubSettings settings) {
        if (!settings.progressBars() || System.console() == null || "dumb".equals(System.getenv("TERM"))) {
            return NONE;
        }
        return onTerminal(System.err, System::nanoTime);
    }

    /**
     * Each file's download as a {@link ProgressBar} in bytes on {@code out}, timed with {@code nanoClock}:
     * {@code model.safetensors  [#######.............]  36%  190.2/522.7 MB  41.3 MB/s  ETA 0:08}; the
     * speed counts only this attempt's bytes, and a failed download ends with "(interrupted)".
     */
    static DownloadProgress onTerminal(PrintStream out, LongSupplier nanoClock) {
        return new DownloadProgress() {
            private ProgressBar bar = ProgressBar.silent();
            private long current;

            @Override
            public void started(String filename, long totalBytes, long resumedFrom) {
                current = resumedFrom;
                bar = ProgressBar.forFile(filename, resumedFrom, totalBytes, out, nanoClock);
            }

            @Override
            public void advanced(long bytesSoFar) {
                current = bytesSoFar;
                bar.update(bytesSoFar, "");
            }

            @Override
            public void finished(boolean complete) {
                if (!complete) bar.update(current, "(interrupted)");
                bar.close();
            }
        };
    }
}
