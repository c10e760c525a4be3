package dev.loupe.store.harvest;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardRequest;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.store.corpus.Chunker;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOps;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The forward passes of a harvest: one per batch, caching exactly the stored hooks, stopped after
 * the last block any of them is in. Every batch is computed single-threaded (BLAS and OpenMP), and
 * several batches at once, one per thread; each batch's activations go to the sink in batch order.
 *
 * <p>Why single-threaded batches: a multi-threaded GEMM sums in another order than a single-threaded
 * one (OpenBLAS splits the work by thread count), so the same batch gave activations differing in
 * the last bits on 1 and 2 threads, and a store's bytes depended on the machine's core count. Computed
 * one thread per batch, a store is the same bytes on any machine with the same CPU kind, whichever
 * way its batches are spread over threads, processes or a cluster's executors (the distributed harvest
 * relies on it). Batches side by side also use the cores better than threads inside one small op.
 */
public final class HarvestWorkers {
    private final HookedTransformer model;
    private final List<String> hooks;
    private final int stopAtLayer;
    private final ActivationFilter filter;
    private final int vocab;

    /** Receives each batch's activations ([n, context, ...] per hook) and token ids, in batch order. */
    @FunctionalInterface
    public interface Sink {
        void accept(Map<String, INDArray> activations, int[][] tokens) throws IOException;
    }

    public HarvestWorkers(HookedTransformer model, List<String> hooks, int stopAtLayer) {
        this.model = model;
        this.hooks = List.copyOf(hooks);
        this.stopAtLayer = stopAtLayer;
        this.filter = ActivationFilter.names(hooks.toArray(String[]::new));
        this.vocab = model.config().dVocab();
    }

    /** The sequences of {@code chunks}, at most {@code count} of them, in batches of {@code batchSize} (the last shorter). */
    public static Iterator<int[][]> batches(Chunker chunks, int batchSize, long count) {
        return new Iterator<>() {
            long left = count;

            @Override
            public boolean hasNext() {
                return left > 0 && chunks.hasNext();
            }

            @Override
            public int[][] next() {
                if (!hasNext()) throw new NoSuchElementException();
                int n = (int) Math.min(batchSize, left);
                List<int[]> batch = new ArrayList<>(n);
                while (batch.size() < n && chunks.hasNext()) batch.add(chunks.next());
                left -= batch.size();
                return batch.toArray(int[][]::new);
            }
        };
    }

    /**
     * Computes every batch of {@code batches} (its sequences numbered from {@code firstSequence}, for
     * messages) on {@code threads} threads, {@code threads == 1} on the calling thread, and hands each
     * to {@code sink} in order. The first failure, of a batch or of the sink, ends the run and is
     * rethrown once every thread has stopped. Returns the number of sequences computed.
     */
    public long run(Iterator<int[][]> batches, long firstSequence, int threads, Sink sink) throws IOException {
        if (threads < 1) throw new LoupeException("harvest: threads must be >= 1, got " + threads);
        Run run = new Run(batches, firstSequence, sink);
        SingleThreadedBlas.enter();
        try {
            if (threads == 1) {
                int omp = nativeOps().ompGetMaxThreads();
                nativeOps().setOmpNumThreads(1);
                try {
                    run.work(false);
                } finally {
                    nativeOps().setOmpNumThreads(omp);
                }
            } else {
                ExecutorService pool = Executors.newFixedThreadPool(threads, task -> {
                    Thread t = new Thread(task, "loupe-harvest-" + Integer.toHexString(task.hashCode()));
                    t.setDaemon(true);
                    return t;
                });
                try {
                    List<Future<?>> workers = new ArrayList<>();
                    for (int i = 0; i < threads; i++)
                        workers.add(pool.submit(() -> {
                            nativeOps().setOmpNumThreads(1); // this thread's OpenMP setting
                            run.work(true);
                            return null;
                        }));
                    for (Future<?> f : workers) f.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    run.fail(new IOException("interrupted while harvesting", e));
                } catch (java.util.concurrent.ExecutionException e) {
                    run.fail(e.getCause()); // work() records its own failures; this is anything else
                } finally {
                    pool.shutdownNow();
                    awaitQuietly(pool);
                }
            }
        } finally {
            SingleThreadedBlas.exit();
        }
        run.rethrow();
        return run.sequencesDone;
    }

    private static void awaitQuietly(ExecutorService pool) {
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One run's shared state: the batch source, whose turn it is to hand a batch to the sink, the first failure. */
    private final class Run {
        private final Iterator<int[][]> batches;
        private final Sink sink;
        private long taken, sequencesTaken, appended, sequencesDone;
        private Throwable failure;

        Run(Iterator<int[][]> batches, long firstSequence, Sink sink) {
            this.batches = batches;
            this.sequencesTaken = firstSequence;
            this.sink = sink;
        }

        /** Takes batches until there are none or a failure; computes each, then waits its turn for the sink. */
        void work(boolean pooled) {
            try {
                while (true) {
                    long index, first;
                    int[][] ids;
                    synchronized (this) {
                        if (failure != null || !batches.hasNext()) return;
                        ids = batches.next();
                        index = taken++;
                        first = sequencesTaken;
                        sequencesTaken += ids.length;
                    }
                    checkIds(ids, vocab, first);
                    ForwardRequest req = ForwardRequest.of(Tokens.of(ids))
                            .cache(filter)
                            .stopAtLayer(stopAtLayer)
                            .build();
                    try (ForwardResult r = model.forward(req)) { // closed on this thread: its buffers stay in its pool
                        synchronized (this) {
                            while (appended != index && failure == null) wait();
                            if (failure != null) return;
                        }
                        try {
                            Map<String, INDArray> acts = new LinkedHashMap<>();
                            for (String h : hooks) acts.put(h, r.cache().get(h)); // [n, context, ...]
                            sink.accept(acts, ids);
                        } catch (Throwable t) {
                            fail(t); // before the next batch's turn, so that it is not handed over
                            return;
                        } finally {
                            synchronized (this) {
                                appended++;
                                if (failure == null) sequencesDone += ids.length;
                                notifyAll();
                            }
                        }
                    }
                }
            } catch (Throwable t) {
                fail(t);
            } finally {
                if (pooled) { // this thread's pass memory dies with it
                    Nd4j.getWorkspaceManager().destroyAllWorkspacesForCurrentThread();
                    Graph.freeRecycledMemory();
                }
            }
        }

        synchronized void fail(Throwable t) {
            if (failure == null) failure = t;
            notifyAll();
        }

        void rethrow() throws IOException {
            Throwable t = failure;
            if (t == null) return;
            if (t instanceof IOException io) throw io;
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error err) throw err;
            throw new IllegalStateException(t);
        }
    }

    static void checkIds(int[][] ids, int vocab, long firstSequence) {
        for (int b = 0; b < ids.length; b++)
            for (int p = 0; p < ids[b].length; p++)
                if (ids[b][p] < 0 || ids[b][p] >= vocab)
                    throw new LoupeException(
                            "harvest: sequence " + (firstSequence + b) + " of the corpus has token id " + ids[b][p]
                                    + " at position " + p + ", outside the model's vocabulary 0.." + (vocab - 1)
                                    + " (corpus tokenized for another model?)");
    }

    private static NativeOps nativeOps() {
        return NativeOpsHolder.getInstance().getDeviceNativeOps();
    }

    /**
     * OpenBLAS's thread count is one setting for the whole process: it is 1 while any harvest
     * computes in this JVM (counted, so that concurrent harvests, such as a Spark executor's tasks,
     * never switch it back under one another) and restored when the last one ends.
     */
    private static final class SingleThreadedBlas {
        private static int users, before;

        static synchronized void enter() {
            if (users++ == 0) {
                before = Nd4j.factory().blas().getMaxThreads();
                Nd4j.factory().blas().setMaxThreads(1);
            }
        }

        static synchronized void exit() {
            if (--users == 0) Nd4j.factory().blas().setMaxThreads(before);
        }
    }
}
