package dev.loupe.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

class ShardWorkersTest {

    @Test
    void shardsRunOnTheirOwnThreadsAndReturnInShardOrder() {
        Set<String> threads = ConcurrentHashMap.newKeySet();
        try (ShardWorkers w = new ShardWorkers(3)) {
            for (int round = 0; round < 5; round++) {
                List<Integer> got = w.run((k, turn) -> {
                    threads.add(Thread.currentThread().getName());
                    if (k == 0) sleep(20); // shard 0 finishes last
                    return Nd4j.scalar(k * 10.0).getInt(0);
                });
                assertEquals(List.of(0, 10, 20), got);
            }
        }
        assertEquals(3, threads.size(), "the calling thread and two workers, kept between steps: " + threads);
        assertTrue(threads.contains(Thread.currentThread().getName()));
    }

    /** A failing shard is rethrown as it was, and only after every other shard has finished. */
    @Test
    void aFailureInAWorkerIsRethrownAfterAllShardsEnded() {
        AtomicInteger finished = new AtomicInteger();
        LoupeException boom = new LoupeException("shard 2 failed");
        try (ShardWorkers w = new ShardWorkers(3)) {
            LoupeException e = assertThrows(
                    LoupeException.class,
                    () -> w.run((k, turn) -> {
                        if (k == 1) throw boom;
                        sleep(30);
                        turn.await(); // shard 2 must not wait for the failed shard 1 forever
                        return finished.incrementAndGet();
                    }));
            assertSame(boom, e);
            assertEquals(2, finished.get(), "shards 0 and 2 ran to the end before the failure was reported");
            assertEquals(List.of(1, 2, 3), w.run((k, turn) -> k + 1), "the workers still run after a failed step");
        }
    }

    /** After turn.await() a shard runs only once every shard before it has ended, whichever finishes first. */
    @Test
    void turnsGoInShardOrder() {
        try (ShardWorkers w = new ShardWorkers(3)) {
            for (int round = 0; round < 5; round++) {
                List<Integer> order = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                w.run((k, turn) -> {
                    sleep(10L * (2 - k)); // shard 2 is ready first, shard 0 last
                    turn.await();
                    order.add(k);
                    return k;
                });
                assertEquals(List.of(0, 1, 2), order);
            }
        }
    }

    /** While sharded training runs BLAS is single-threaded; closing restores the setting. */
    @Test
    void blasThreadsAreRestoredOnClose() {
        int before = Nd4j.factory().blas().getMaxThreads();
        try (ShardWorkers w = new ShardWorkers(2)) {
            assertEquals(1, Nd4j.factory().blas().getMaxThreads());
        }
        assertEquals(before, Nd4j.factory().blas().getMaxThreads());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
