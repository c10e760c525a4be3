package dev.loupe.engine.hub;

import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closes a response body that has sent nothing for too long. Java's HttpClient times out only
 * the wait for response headers; a body that stops flowing would otherwise block its reader
 * forever. Closing the stream makes the blocked read throw, and {@link #fired()} tells the reader
 * why.
 */
final class StallWatchdog implements AutoCloseable {

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "loupe-hub-stall-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final AtomicLong lastProgress = new AtomicLong(System.nanoTime());
    private final ScheduledFuture<?> task;
    private volatile boolean fired;

    StallWatchdog(Closeable stream, Duration limit) {
        long limitNanos = limit.toNanos();
        long periodMillis = Math.max(10, limit.toMillis() / 4);
        task = TIMER.scheduleAtFixedRate(
                () -> {
                    if (!fired && System.nanoTime() - lastProgress.get() > limitNanos) {
                        fired = true;
                        try {
                            stream.close();
                        } catch (IOException | RuntimeException e) {
                            // the reader fails either way
                        }
                    }
                },
                periodMillis,
                periodMillis,
                TimeUnit.MILLISECONDS);
    }

    /** Data moved: restart the clock. */
    void touch() {
        lastProgress.set(System.nanoTime());
    }

    /** Whether this watchdog closed the stream. */
    boolean fired() {
        return fired;
    }

    @Override
    public void close() {
        task.cancel(false);
    }
}
