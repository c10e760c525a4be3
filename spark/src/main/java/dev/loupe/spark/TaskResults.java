package dev.loupe.spark;

import dev.loupe.engine.LoupeException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Function2;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.BoxedUnit;

/**
 * One Spark job of one task per item, whose results the driver takes in item order as they arrive
 * (a result that arrives early waits for those before it). Loupe's jobs need both: the harvest lists
 * shards in corpus order while later ones are still computed, and aggregations merge partial results
 * in a fixed order, so that their floating-point sums do not depend on which task finished first.
 * The job runs on a thread of its own ({@code runJob} blocks until every task succeeded);
 * {@link #close} cancels it when the driver stops early.
 *
 * @param <U> a task's result
 */
public final class TaskResults<U> implements AutoCloseable {
    private static final Object DONE = new Object();

    /** A task: one item of the job's list. Serializable, as Spark ships it to executors. */
    public interface Task<T, U> extends Serializable {
        U run(TaskContext context, T item) throws Exception;
    }

    private final BlockingQueue<Object> arrived = new LinkedBlockingQueue<>();
    private final TreeMap<Integer, U> waiting = new TreeMap<>();
    private final JavaSparkContext sc;
    private final Thread thread;
    private final String group;
    private final int count;
    private int next;
    private boolean finished;

    private record Arrived<U>(int index, U value) {}

    private TaskResults(
            JavaSparkContext sc,
            List<?> items,
            Function2<TaskContext, Iterator<Object>, U> func,
            Class<U> type,
            String what) {
        this.sc = sc;
        this.count = items.size();
        this.group = "loupe-" + System.nanoTime();
        List<Object> partitions = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) partitions.add(i);
        this.thread = new Thread(
                () -> {
                    try {
                        sc.setJobGroup(group, what, true);
                        sc.sc()
                                .runJob(
                                        sc.parallelize(new ArrayList<Object>(items), Math.max(1, items.size()))
                                                .rdd(),
                                        func,
                                        CollectionConverters.asScala(partitions).toSeq(),
                                        (Function2<Object, U, BoxedUnit>) (i, u) -> {
                                            arrived.add(new Arrived<>((Integer) i, u));
                                            return BoxedUnit.UNIT;
                                        },
                                        ClassTag$.MODULE$.apply(type));
                        arrived.add(DONE);
                    } catch (Throwable t) {
                        arrived.add(t);
                    }
                },
                "loupe-spark-job");
        thread.setDaemon(true);
    }

    /** Starts the job: {@code task} runs once per item of {@code items}, each in a Spark task of its own. */
    public static <T, U> TaskResults<U> start(
            JavaSparkContext sc, List<T> items, Task<T, U> task, Class<U> type, String what) {
        TaskResults<U> r = new TaskResults<>(sc, items, new Runner<>(task), type, what);
        if (items.isEmpty()) r.arrived.add(DONE);
        else r.thread.start();
        return r;
    }

    /**
     * The next item's result, in item order; null after the last. A failed job (a task that failed
     * every attempt) is a {@link LoupeException} with Spark's account of it: task, executor, cause.
     */
    public U next() {
        while (true) {
            if (next == count) {
                finished = true;
                return null;
            }
            U ready = waiting.remove(next);
            if (ready != null) {
                next++;
                return ready;
            }
            Object r;
            try {
                r = arrived.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LoupeException("interrupted while the Spark job ran", e);
            }
            if (r instanceof Throwable t) {
                finished = true;
                throw new LoupeException(summary(t), t);
            }
            if (r instanceof Arrived<?> a) {
                @SuppressWarnings("unchecked")
                U value = (U) a.value();
                waiting.put(a.index(), value);
            }
            // DONE comes after every result: nothing to do
        }
    }

    /** Spark's "job aborted" message up to its stack traces: it names the task, executor and cause. */
    static String summary(Throwable t) {
        String m = String.valueOf(t.getMessage());
        int cut = m.indexOf("\n\tat ");
        int driver = m.indexOf("\nDriver stacktrace");
        if (driver >= 0 && (cut < 0 || driver < cut)) cut = driver;
        return (cut >= 0 ? m.substring(0, cut) : m).strip();
    }

    /** Cancels the job if it has not ended (the driver stops early), and waits for its thread. */
    @Override
    public void close() {
        if (!finished) sc.cancelJobGroup(group);
        try {
            thread.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Spark's side of a task: the partition's one item, handed to the task. */
    private static final class Runner<T, U> extends scala.runtime.AbstractFunction2<TaskContext, Iterator<Object>, U>
            implements Serializable {
        private final Task<T, U> task;

        Runner(Task<T, U> task) {
            this.task = task;
        }

        @Override
        @SuppressWarnings("unchecked")
        public U apply(TaskContext context, Iterator<Object> items) {
            try {
                return task.run(context, (T) items.next());
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        }
    }
}
