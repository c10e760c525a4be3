package dev.loupe.saes.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Runs a loop over {@code [0, n)} in contiguous ranges on a pool of one thread per processor. Ranges
 * are fixed by {@code n} and the thread count, and each range is one task, so which thread computes
 * an element never changes the result.
 */
public final class Parallel {
    private static final ForkJoinPool POOL =
            new ForkJoinPool(Math.max(1, Runtime.getRuntime().availableProcessors()));

    private Parallel() {}

    /** A loop body over the range {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    /** The number of threads the loops use. */
    public static int threads() {
        return POOL.getParallelism();
    }

    /** Runs {@code body} over {@code [0, n)} split into at most {@link #threads()} ranges of at least {@code grain} elements. */
    public static void forRange(int n, int grain, Range body) {
        int parts = (int) Math.max(1, Math.min(threads(), n / (long) Math.max(1, grain)));
        if (parts == 1) {
            body.run(0, n);
            return;
        }
        POOL.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                RecursiveAction[] tasks = new RecursiveAction[parts];
                for (int p = 0; p < parts; p++) {
                    int from = (int) ((long) n * p / parts), to = (int) ((long) n * (p + 1) / parts);
                    tasks[p] = new RecursiveAction() {
                        @Override
                        protected void compute() {
                            body.run(from, to);
                        }
                    };
                }
                invokeAll(tasks);
            }
        });
    }
}
