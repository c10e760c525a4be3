package dev.loupe.notebooks.kernel;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import jdk.jshell.execution.DirectExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * Runs JShell snippets in the kernel's JVM on one long-lived executor thread, so that notebook code
 * shares objects with the kernel (display needs the real object, not JShell's string of it) and so
 * that the thread waiting for a snippet can stop it: on interrupt or when the cell timeout passes.
 *
 * <p>One thread, reused, rather than a thread per snippet: the engine keeps a per-thread buffer pool
 * of off-heap memory that a fresh thread per snippet would strand.
 */
final class CellExecutionControl extends DirectExecutionControl {

    /** Why the running snippet was stopped; null while nothing asked it to stop. */
    enum StopReason {
        INTERRUPTED,
        TIMED_OUT
    }

    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final long STOP_GRACE_MS = 1500;

    private final Map<String, Object> values = new ConcurrentHashMap<>();
    private final AtomicInteger nextValueId = new AtomicInteger();
    private final AtomicReference<Thread> running = new AtomicReference<>();
    private final AtomicReference<StopReason> stopReason = new AtomicReference<>();
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "loupe-cell-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private volatile long timeoutMillis;

    static ExecutionControlProvider provider(AtomicReference<CellExecutionControl> created) {
        return new ExecutionControlProvider() {
            @Override
            public String name() {
                return "loupe-cell";
            }

            @Override
            public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
                CellExecutionControl control = new CellExecutionControl();
                created.set(control);
                return control;
            }
        };
    }

    /** 0 means no timeout. */
    void setTimeoutMillis(long millis) {
        this.timeoutMillis = millis;
    }

    long timeoutMillis() {
        return timeoutMillis;
    }

    /** The object a snippet returned, by the id JShell reported as its value; removes it. */
    Object takeValue(String id) {
        return id == null ? null : values.remove(id);
    }

    boolean hasValue(String id) {
        return id != null && values.containsKey(id);
    }

    /** Drops every value not taken (they may hold large arrays). */
    void clearValues() {
        values.clear();
    }

    /** The reason the last snippet was stopped, cleared by this call. */
    StopReason takeStopReason() {
        return stopReason.getAndSet(null);
    }

    @Override
    protected String invoke(Method doitMethod) throws Exception {
        Future<Object> future = executor.submit(() -> {
            running.set(Thread.currentThread());
            try {
                return doitMethod.invoke(null);
            } finally {
                running.set(null);
                Thread.interrupted(); // an interrupt aimed at this snippet must not leak into the next
            }
        });
        Object value;
        try {
            long timeout = timeoutMillis;
            value = timeout > 0 ? future.get(timeout, TimeUnit.MILLISECONDS) : future.get();
        } catch (TimeoutException e) {
            stop(StopReason.TIMED_OUT);
            awaitStopped(future);
            throw new ExecutionControl.StoppedException();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (stopReason.get() != null || isThreadDeath(cause)) {
                stopReason.compareAndSet(null, StopReason.INTERRUPTED);
                throw new ExecutionControl.StoppedException();
            }
            if (cause instanceof Exception ex) {
                throw ex; // InvocationTargetException: the caller turns it into the user's exception
            }
            throw new InvocationTargetException(cause);
        }
        if (stopReason.get() != null) {
            // The snippet finished on its own just as it was stopped: still report the stop.
            throw new ExecutionControl.StoppedException();
        }
        String id = "loupe_value_" + nextValueId.incrementAndGet();
        values.put(id, value == null ? NULL : value);
        return id;
    }

    /** Placeholder for a null result (the map holds no nulls). */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    private static boolean isThreadDeath(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ThreadDeath) return true;
        }
        return false;
    }

    private void awaitStopped(Future<Object> future) {
        try {
            future.get(STOP_GRACE_MS * 3, TimeUnit.MILLISECONDS);
        } catch (Exception ignored) {
            // Stopped (ThreadDeath), failed or still stuck in native code: the cell is over either way.
        }
    }

    /** Interrupt from the frontend. */
    @Override
    public void stop() {
        stop(StopReason.INTERRUPTED);
    }

    /**
     * Asks the snippet thread to stop: first Thread.interrupt (code that sleeps, waits or checks the flag
     * stops cleanly), then, if it is still running after a grace period, Thread.stop, which is the only
     * way to end a busy loop in code we do not control. Java 17 supports it; where a later JDK refuses,
     * the message says to restart the kernel.
     */
    @SuppressWarnings({"removal", "deprecation"})
    void stop(StopReason reason) {
        Thread t = running.get();
        if (t == null) return;
        stopReason.compareAndSet(null, reason);
        t.interrupt();
        Thread stopper = new Thread(
                () -> {
                    long deadline = System.currentTimeMillis() + STOP_GRACE_MS;
                    while (running.get() == t && System.currentTimeMillis() < deadline) {
                        try {
                            Thread.sleep(20);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    if (running.get() == t) {
                        try {
                            t.stop();
                        } catch (UnsupportedOperationException e) {
                            System.err.println(
                                    "loupe: this JVM cannot stop a running cell; restart the kernel (Java 17 can)");
                        }
                    }
                },
                "loupe-cell-stopper");
        stopper.setDaemon(true);
        stopper.start();
    }

    @Override
    public void close() {
        stop(StopReason.INTERRUPTED);
        executor.shutdownNow();
        values.clear();
    }
}
