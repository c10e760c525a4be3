package dev.loupe.store.export;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Forces an export's data files to disk one by one on a background thread, each as soon as it is
 * written, while the export writes the next: the disk writes file i while file i+1 is copied. (The
 * kernel starts writing dirty pages back on its own only past {@code vm.dirty_background_ratio}, 10%
 * of memory: an export smaller than that would otherwise reach the disk only at its final fsync.)
 * {@link #await} returns once every file handed over is on disk, or throws the first failure.
 */
final class WriteBehind implements AutoCloseable {
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "export-fsync");
        t.setDaemon(true);
        return t;
    });
    private final List<Future<?>> forced = new ArrayList<>();

    /** {@code file} is complete and closed: force it to disk in the background. */
    synchronized void written(Path file) {
        forced.add(thread.submit(() -> {
            ExportFile.force(List.of(file));
            return null;
        }));
    }

    /** Waits until every file handed over is forced; the first failure is thrown. */
    void await() throws IOException {
        List<Future<?>> all;
        synchronized (this) {
            all = List.copyOf(forced);
        }
        for (Future<?> f : all) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while forcing the export's files to disk");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) throw io;
                throw new IOException(e.getCause());
            }
        }
    }

    /** Stops forcing (a failed export's files are removed after this returns). */
    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
