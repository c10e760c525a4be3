package dev.loupe.engine.train;

import dev.loupe.engine.autograd.Graph;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOps;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * Computes the shards of a training batch at the same time: shard 0 on the calling thread, the
 * others on worker threads that live as long as this object.
 *
 * <p>Why shards instead of ND4J's own threads: in a small model's step most ops are too small for
 * ND4J to split across threads, so its second thread mostly idled (a 2-layer step took 116 ms with
 * two threads, 124 ms with one). Two half batches side by side, each single-threaded, took 93 ms.
 * While a sharded run lasts, BLAS and ND4J's OpenMP loops are single-threaded: two multi-threaded
 * GEMMs at once oversubscribe the cores (measured 138 ms), and single-threaded OpenMP loops took the
 * step from 78 to 75 ms.
 */
final class ShardWorkers implements AutoCloseable {
    private final int shards;
    private final ExecutorService workers; // null with one shard
    private final int blasThreads, ompThreads;

    ShardWorkers(int shards) {
        this.shards = shards;
        // For the whole run, not per step: switching OpenBLAS's thread count took 0.4-0.9 ms. OpenMP's
        // thread count is per thread: the calling thread's is restored on close.
        this.blasThreads = Nd4j.factory().blas().getMaxThreads();
        this.ompThreads = nativeOps().ompGetMaxThreads();
        if (shards > 1) {
            Nd4j.factory().blas().setMaxThreads(1);
            nativeOps().setOmpNumThreads(1);
        }
        AtomicInteger n = new AtomicInteger(1);
        this.workers = shards == 1
                ? null
                : Executors.newFixedThreadPool(shards - 1, task -> {
                    Thread t = new Thread(
                            () -> {
                                nativeOps().setOmpNumThreads(1); // this thread's OpenMP setting
                                try {
                                    task.run();
                                } finally { // this thread's step memory dies with it
                                    Nd4j.getWorkspaceManager().destroyAllWorkspacesForCurrentThread();
                                    Graph.freeRecycledMemory();
                                }
                            },
                            "loupe-train-shard-" + n.getAndIncrement());
                    t.setDaemon(true);
                    return t;
                });
    }

    private static NativeOps nativeOps() {
        return NativeOpsHolder.getInstance().getDeviceNativeOps();
    }

    int shards() {
        return shards;
    }

    /** One shard's work; {@code turn.await()} waits until every earlier shard has ended. */
    @FunctionalInterface
    interface ShardTask<T> {
        T run(int shard, Turn turn);
    }

    /** Lets a shard wait for the shards before it: to add results into one place in shard order. */
    interface Turn {
        void await();
    }

    /**
     * Runs {@code task} for every shard k at once; results in shard order. Rethrows the first
     * failure after all have ended.
     */
    <T> List<T> run(ShardTask<T> task) {
        if (workers == null) return List.of(task.run(0, () -> {}));
        boolean[] ended = new boolean[shards];
        List<Future<T>> others = new ArrayList<>();
        for (int k = 1; k < shards; k++) {
            int id = k;
            others.add(workers.submit(() -> runShard(task, id, ended)));
        }
        List<T> results = new ArrayList<>();
        RuntimeException failure = null;
        try {
            results.add(runShard(task, 0, ended));
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Future<T> f : others) {
            try {
                results.add(f.get());
            } catch (ExecutionException e) {
                if (failure == null)
                    failure = e.getCause() instanceof RuntimeException r ? r : new RuntimeException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = new IllegalStateException("interrupted while training shards ran", e);
            }
        }
        if (failure != null) throw failure;
        return results;
    }

    /** Runs shard k and marks it ended, however it ends, so that no later shard waits for it forever. */
    private <T> T runShard(ShardTask<T> task, int k, boolean[] ended) {
        try {
            return task.run(k, () -> {
                synchronized (ended) {
                    for (int j = 0; j < k; j++)
                        while (!ended[j]) {
                            try {
                                ended.wait();
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                throw new IllegalStateException(
                                        "interrupted while shard " + k + " waited for shard " + j, e);
                            }
                        }
                }
            });
        } finally {
            synchronized (ended) {
                ended[k] = true;
                ended.notifyAll();
            }
        }
    }

    @Override
    public void close() {
        if (workers == null) return;
        workers.shutdown();
        Nd4j.factory().blas().setMaxThreads(blasThreads);
        nativeOps().setOmpNumThreads(ompThreads);
    }
}
