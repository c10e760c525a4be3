package dev.loupe.store;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** One named daemon thread that runs tasks in order: the store's overlap of disk work with computation. */
public final class BackgroundThread {
    private BackgroundThread() {}

    /** Daemon, so that an unclosed writer or stream never keeps the JVM alive. */
    public static ExecutorService named(String name) {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }
}
