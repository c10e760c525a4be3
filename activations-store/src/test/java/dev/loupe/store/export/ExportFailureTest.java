package dev.loupe.store.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input gets a clear error before anything is written; a full disk or a killed export never
 * leaves an output folder that looks complete.
 */
class ExportFailureTest {
    @TempDir
    Path tmp;

    private static LoupeException refused(Path store, Path out, ExportFormat f, ExportOptions o) {
        return assertThrows(LoupeException.class, () -> ExportFixtures.export(store, out, f, o));
    }

    @Test
    void badInputIsRefusedNamingWhatIsWrong() throws IOException {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path out = tmp.resolve("out");

        String unknown = refused(
                        store,
                        out,
                        ExportFormat.SAELENS,
                        ExportOptions.defaults().withHooks(List.of("blocks.0.hook_resid_pre")))
                .getMessage();
        assertTrue(unknown.contains("unknown hook in this store 'blocks.0.hook_resid_pre'"), unknown);
        assertTrue(unknown.contains("blocks.0.hook_resid_post"), unknown); // the closest stored hook
        assertFalse(Files.exists(out));

        String twice = refused(
                        store,
                        out,
                        ExportFormat.PARQUET,
                        ExportOptions.defaults().withHooks(List.of(ExportFixtures.Z, ExportFixtures.Z)))
                .getMessage();
        assertTrue(twice.contains("listed twice"), twice);

        String tokens = refused(
                        store,
                        out,
                        ExportFormat.SAELENS,
                        ExportOptions.defaults().withRows(ExportOptions.Rows.TOKENS))
                .getMessage();
        assertTrue(tokens.contains("--rows tokens applies to --format parquet"), tokens);

        Files.createDirectories(out);
        Files.writeString(out.resolve("notes.txt"), "mine");
        for (ExportFormat f : ExportFormat.values()) {
            String notEmpty = refused(store, out, f, ExportOptions.defaults()).getMessage();
            assertTrue(notEmpty.contains("exists and is not empty"), notEmpty);
        }
        assertEquals("mine", Files.readString(out.resolve("notes.txt")));
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(1, s.count());
        }
        Path file = tmp.resolve("file");
        Files.writeString(file, "x");
        String notFolder = refused(store, file, ExportFormat.PARQUET, ExportOptions.defaults())
                .getMessage();
        assertTrue(notFolder.contains("exists and is not a folder"), notFolder);

        // an empty folder is fine: it is replaced by the export
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        ExportResult r = ExportFixtures.export(store, empty, ExportFormat.PARQUET, ExportOptions.defaults());
        assertEquals(1, r.files().size());
        assertTrue(Files.isRegularFile(empty.resolve("part-00000-of-00001.parquet")));
        assertEquals(List.of(), leftovers(tmp));
    }

    @Test
    void anIncompleteStoreIsRefused() throws IOException {
        Path store = copy(ExportFixtures.store(StoreDType.F32), tmp.resolve("store"));
        StoreManifest m = StoreManifest.read(store);
        new StoreManifest(
                        m.format(),
                        m.version(),
                        m.model(),
                        m.hooks(),
                        m.dtype(),
                        m.contextSize(),
                        m.corpus(),
                        m.creation(),
                        m.createdAt(),
                        m.rows(),
                        m.sequences(),
                        m.shards(),
                        false)
                .write(store);
        String msg = refused(store, tmp.resolve("out"), ExportFormat.SAELENS, ExportOptions.defaults())
                .getMessage();
        assertTrue(
                msg.contains("the store is incomplete (its harvest stopped after 40 sequences); run the same harvest"),
                msg);
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    /** -Dloupe.store.failAfterBytes makes writes fail as a full disk would, in a child JVM without Hadoop on its classpath. */
    @Test
    void aWriteErrorLeavesNothingBehind() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        for (ExportFormat f : List.of(ExportFormat.SAELENS, ExportFormat.PARQUET)) {
            Path out = tmp.resolve(f.label());
            Process p = child(List.of("-Dloupe.store.failAfterBytes=60000"), store, out, f, 0);
            String log = new String(p.getInputStream().readAllBytes());
            assertEquals(2, p.waitFor(), log);
            assertTrue(log.contains("loupe: " + out + ": export failed (No space left on device (simulated"), log);
            assertTrue(log.contains("nothing was left there"), log);
            assertFalse(Files.exists(out), log);
            assertEquals(List.of(), leftovers(tmp));
        }
        // the same child, with space, exports Parquet without Hadoop on its classpath
        Path ok = tmp.resolve("ok");
        Process p = child(List.of(), store, ok, ExportFormat.PARQUET, 0);
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        assertTrue(log.contains("done 1 files"), log);
    }

    /** A real full disk: a 64 KiB tmpfs (needs root; skipped where mounting is not allowed). */
    @Test
    void aFullDiskLeavesNothingBehind() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path disk = Files.createDirectories(tmp.resolve("disk"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disk.toString())
                .redirectErrorStream(true)
                .start();
        Assumptions.assumeTrue(mount.waitFor() == 0, "cannot mount a tmpfs here");
        try {
            for (ExportFormat f : ExportFormat.values()) {
                Path out = disk.resolve(f.label());
                String msg = refused(store, out, f, ExportOptions.defaults()).getMessage();
                assertTrue(msg.contains("No space left on device"), msg);
                assertTrue(msg.contains("nothing was left there"), msg);
                assertFalse(Files.exists(out));
                assertEquals(List.of(), leftovers(disk));
            }
        } finally {
            new ProcessBuilder("umount", "--lazy", disk.toString()).start().waitFor();
        }
    }

    /** kill -9 in the middle: no output folder; the next export to it removes the dead one's partial folder. */
    @Test
    void aKilledExportLeavesNoOutputAndTheNextOneCleansUp() throws Exception {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path out = tmp.resolve("out");
        Process p = child(List.of(), store, out, ExportFormat.SAELENS, 300);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            int updates = 0;
            String line;
            while ((line = r.readLine()) != null && updates < 2) if (line.equals("writing")) updates++;
            assertEquals(2, updates, "the child reported progress");
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        assertFalse(Files.exists(out));
        List<String> partial = leftovers(tmp);
        assertEquals(1, partial.size(), partial.toString());
        assertTrue(partial.get(0).startsWith(".out.partial-"), partial.toString());

        ExportResult done = ExportFixtures.export(store, out, ExportFormat.SAELENS, ExportOptions.defaults());
        assertEquals(3, done.files().size());
        assertEquals(List.of(), leftovers(tmp));
    }

    /** Hidden partial folders left in {@code dir}. */
    private static List<String> leftovers(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(".partial-"))
                    .sorted()
                    .toList();
        }
    }

    /** {@link ExportChild} in a new JVM whose classpath is this one's without Hadoop (tests only need it to read Parquet). */
    private static Process child(List<String> jvmArgs, Path store, Path out, ExportFormat f, long pauseMs)
            throws IOException {
        String cp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("/org/apache/hadoop/")) // the Hadoop jars, not parquet-hadoop
                .collect(Collectors.joining(File.pathSeparator));
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        cmd.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", cp, ExportChild.class.getName()));
        cmd.addAll(List.of(store.toString(), out.toString(), f.label(), Long.toString(pauseMs)));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    private static Path copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(q);
                else Files.copy(p, q);
            }
        }
        return to;
    }
}
