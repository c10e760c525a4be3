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

    /** Work below this (in element operations) runs on the calling thread: waking pool threads costs more. */
    private static final long MIN_WORK_PER_THREAD = 1 << 18;

    /**
     * Runs {@code body} over {@code [0, n)} split into at most {@link #threads()} ranges, each with at least
     * {@code MIN_WORK_PER_THREAD} element operations ({@code workPerItem} per index). Small loops stay on
     * the calling thread: on a loaded machine, handing them to sleeping pool threads took longer than the work.
     */
    public static void forRange(int n, long workPerItem, Range body) {
        long work = (long) n * Math.max(1, workPerItem);
        int parts = (int) Math.max(1, Math.min(Math.min(threads(), n), work / MIN_WORK_PER_THREAD));
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
