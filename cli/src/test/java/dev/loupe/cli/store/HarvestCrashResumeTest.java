package dev.loupe.cli.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.cli.CliRun;
import dev.loupe.cli.Main;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 a real harvest process mid-run: the store must open, hold correct committed rows, and a
 * resumed run must finish with exactly the rows of an uninterrupted run. Disk full likewise.
 */
class HarvestCrashResumeTest {
    @TempDir
    Path tmp;

    private String[] harvestArgs(Path model, Path corpus, Path out) {
        return new String[] {
            "harvest",
            "--model",
            model.toString(),
            "--corpus",
            corpus.toString(),
            "--hooks",
            "resid_post1,blocks.2.hook_mlp_out",
            "--context",
            "16",
            "--batch",
            "2",
            "--shard-mb",
            "0.001",
            "--bos",
            "1",
            "--dtype",
            "bf16",
            "--quiet",
            "--out",
            out.toString()
        };
    }

    private static long committedShards(Path store) {
        try {
            return StoreManifest.read(store).shards().size();
        } catch (RuntimeException e) {
            return 0; // not created yet
        }
    }

    /** Every row, token, sequence and position of {@code b} equals {@code a}'s first rows. */
    static void assertPrefix(ActivationStore full, ActivationStore part) {
        int n = (int) part.rows();
        assertTrue(n <= full.rows());
        for (String h : full.hooks()) assertEquals(full.rows(h, 0, n), part.rows(h, 0, n), h);
        assertEquals(java.util.Arrays.toString(full.tokens(0, n)), java.util.Arrays.toString(part.tokens(0, n)));
        assertEquals(java.util.Arrays.toString(full.sequences(0, n)), java.util.Arrays.toString(part.sequences(0, n)));
        assertEquals(java.util.Arrays.toString(full.positions(0, n)), java.util.Arrays.toString(part.positions(0, n)));
    }

    @Test
    void killMinus9MidHarvestThenResumeGivesTheUninterruptedStore() throws Exception {
        Path model = Fixtures.savedModel(tmp);
        Path corpus = Fixtures.tokenCorpus(tmp, 3000, 97, 5); // 200 sequences, 100 shards of one batch
        Path reference = tmp.resolve("reference"), crashed = tmp.resolve("crashed");
        assertEquals(0, Main.run(harvestArgs(model, corpus, reference)));

        for (int kill = 0; kill < 2; kill++) {
            long before = committedShards(crashed);
            Process p = CliRun.process(List.of(), harvestArgs(model, corpus, crashed))
                    .redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("child" + kill + ".log").toFile())
                    .start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            // first kill: right after a commit was seen; second: a few ms later, likely mid-shard or mid-commit
            while (committedShards(crashed) < before + 5 && p.isAlive() && System.nanoTime() < deadline)
                Thread.sleep(2);
            if (kill == 1) Thread.sleep(7);
            assertTrue(
                    p.isAlive(),
                    "the harvest ended before it could be killed: "
                            + Files.readString(tmp.resolve("child" + kill + ".log")));
            p.destroyForcibly(); // SIGKILL
            p.waitFor(30, TimeUnit.SECONDS);

            try (ActivationStore full = ActivationStore.open(reference);
                    ActivationStore part = ActivationStore.open(crashed, Verify.FULL, ProgressBar.silent())) {
                assertTrue(
                        !part.manifest().complete() && part.rows() > 0 && part.rows() < full.rows(),
                        "rows " + part.rows());
                assertPrefix(full, part);
            }
        }
        assertEquals(0, Main.run(harvestArgs(model, corpus, crashed))); // resume
        try (ActivationStore full = ActivationStore.open(reference);
                ActivationStore resumed = ActivationStore.open(crashed, Verify.FULL, ProgressBar.silent())) {
            assertTrue(resumed.manifest().complete());
            assertEquals(full.rows(), resumed.rows());
            assertEquals(
                    full.manifest().shards().size(), resumed.manifest().shards().size());
            assertPrefix(full, resumed);
            for (String h : full.hooks()) {
                assertEquals(
                        full.statistics(h).meanNorm(), resumed.statistics(h).meanNorm(), 0.0);
                for (int i = 0; i < full.manifest().shards().size(); i++)
                    assertEquals(
                            full.manifest().shards().get(i).files().get(h).crc32c(),
                            resumed.manifest().shards().get(i).files().get(h).crc32c(),
                            "shard " + i + " " + h);
            }
        }
        try (var s = Files.list(crashed.resolve("shards"))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".")), "no partial shard left");
        }
    }

    @Test
    void diskFullLeavesAConsistentStoreThatSaysHowFarItGotAndResumes() throws Exception {
        Path model = Fixtures.savedModel(tmp);
        Path corpus = Fixtures.tokenCorpus(tmp, 1500, 97, 6); // 100 sequences
        Path reference = tmp.resolve("reference"), full = tmp.resolve("full");
        assertEquals(0, Main.run(harvestArgs(model, corpus, reference)));
        // each batch writes 2*16 rows * (32 + 32) * 2 bytes = 4 KiB: fail in the middle of the run
        Process p = CliRun.process(List.of("-Dloupe.store.failAfterBytes=100000"), harvestArgs(model, corpus, full))
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(2, p.waitFor(), out);
        assertTrue(
                out.contains("No space left on device")
                        && out.contains("The store is consistent: it holds ")
                        && out.contains("run the same command again to resume"),
                out);
        try (ActivationStore ref = ActivationStore.open(reference);
                ActivationStore part = ActivationStore.open(full, Verify.FULL, ProgressBar.silent())) {
            assertTrue(part.rows() > 0 && part.rows() < ref.rows());
            assertTrue(
                    out.contains(part.manifest().shards().size() + " committed shards, " + part.rows() + " rows"), out);
            assertPrefix(ref, part);
        }
        assertEquals(0, Main.run(harvestArgs(model, corpus, full)));
        try (ActivationStore ref = ActivationStore.open(reference);
                ActivationStore done = ActivationStore.open(full)) {
            assertEquals(ref.rows(), done.rows());
            assertPrefix(ref, done);
        }
    }

    /** A real full disk: a 192 KiB tmpfs (needs root; skipped where mounting is not allowed), then grown to resume. */
    @Test
    void aRealFullDiskLeavesAConsistentStoreThatResumesOnceThereIsSpace() throws Exception {
        Path model = Fixtures.savedModel(tmp);
        Path corpus = Fixtures.tokenCorpus(tmp, 1500, 97, 8); // 100 sequences, 50 shards
        Path reference = tmp.resolve("reference");
        assertEquals(0, Main.run(harvestArgs(model, corpus, reference)));
        Path disk = Files.createDirectories(tmp.resolve("disk"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", disk.toString())
                .redirectErrorStream(true)
                .start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mount.waitFor() == 0, "cannot mount a tmpfs here");
        try {
            Path store = disk.resolve("store");
            Process p = CliRun.process(List.of(), harvestArgs(model, corpus, store))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(2, p.waitFor(), out);
            assertTrue(
                    out.contains("No space left on device") && out.contains("The store is consistent: it holds "), out);
            try (ActivationStore ref = ActivationStore.open(reference);
                    ActivationStore part = ActivationStore.open(store, Verify.FULL, ProgressBar.silent())) {
                assertTrue(part.rows() > 0 && part.rows() < ref.rows(), part.rows() + " rows");
                assertTrue(
                        out.contains(part.manifest().shards().size() + " committed shards, " + part.rows() + " rows"),
                        out);
                assertPrefix(ref, part);
            }
            Process grow = new ProcessBuilder("mount", "-o", "remount,size=8m", disk.toString())
                    .redirectErrorStream(true)
                    .start();
            assertEquals(0, grow.waitFor(), new String(grow.getInputStream().readAllBytes()));
            assertEquals(0, Main.run(harvestArgs(model, corpus, store)));
            try (ActivationStore ref = ActivationStore.open(reference);
                    ActivationStore done = ActivationStore.open(store, Verify.FULL, ProgressBar.silent())) {
                assertEquals(ref.rows(), done.rows());
                assertPrefix(ref, done);
            }
        } finally {
            new ProcessBuilder("umount", "--lazy", disk.toString()).start().waitFor(); // lazy: mappings go at GC
        }
    }

    @Test
    void aSecondHarvestIntoTheSameFolderIsRefused() throws Exception {
        Path model = Fixtures.savedModel(tmp);
        Path corpus = Fixtures.tokenCorpus(tmp, 6000, 97, 7);
        Path out = tmp.resolve("store");
        Process p = CliRun.process(List.of(), harvestArgs(model, corpus, out))
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile())
                .start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (committedShards(out) < 1 && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(5);
            assertTrue(p.isAlive());
            LoupeException e = assertThrows(LoupeException.class, () -> Main.run(harvestArgs(model, corpus, out)));
            assertTrue(
                    e.getMessage().contains("another harvest (pid " + p.pid() + ") is writing to this store"),
                    e.getMessage());
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
