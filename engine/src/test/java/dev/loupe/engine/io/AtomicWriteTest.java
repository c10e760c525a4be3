package dev.loupe.engine.io;

import static dev.loupe.engine.io.IoTestSupport.assertLoupe;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class AtomicWriteTest {

    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void failingContentLeavesThePreviousFileAndNoTemporaryFile() throws IOException {
        Path target = IoTestSupport.write(dir, "out.bin", "previous".getBytes(StandardCharsets.UTF_8));
        IOException io = new IOException("disk on fire");
        assertLoupe(
                () -> AtomicFileWriter.write(target, ch -> {
                    ch.write(ByteBuffer.wrap(new byte[100_000]));
                    throw io;
                }),
                "out.bin",
                "disk on fire");
        IllegalStateException runtime = new IllegalStateException("bug");
        assertSame(
                runtime,
                assertThrows(
                        IllegalStateException.class,
                        () -> AtomicFileWriter.write(target, ch -> {
                            ch.write(ByteBuffer.wrap(new byte[10]));
                            throw runtime;
                        })));
        assertThrows(
                OutOfMemoryError.class,
                () -> AtomicFileWriter.write(target, ch -> {
                    throw new OutOfMemoryError("simulated");
                }));
        assertEquals("previous", Files.readString(target));
        assertEquals(List.of("out.bin"), listing());
    }

    @Test
    void successfulWriteReplacesWithNormalPermissions() throws IOException {
        Path target = IoTestSupport.write(dir, "out.bin", "previous".getBytes(StandardCharsets.UTF_8));
        AtomicFileWriter.write(target, ch -> ch.write(ByteBuffer.wrap("next".getBytes(StandardCharsets.UTF_8))));
        assertEquals("next", Files.readString(target));
        Path fresh = dir.resolve("fresh.bin");
        AtomicFileWriter.write(fresh, ch -> ch.write(ByteBuffer.wrap(new byte[] {1})));
        assertArrayEquals(new byte[] {1}, Files.readAllBytes(fresh));
        assertEquals(List.of("fresh.bin", "out.bin"), listing());
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Path plain = Files.write(dir.resolve("plain.bin"), new byte[0]);
            Set<PosixFilePermission> expected = Files.getPosixFilePermissions(plain);
            assertEquals(expected, Files.getPosixFilePermissions(fresh), "umask permissions, not temp-file 0600");
        }
    }

    @Test
    void missingDirectoryIsALoupeException() throws IOException {
        assertLoupe(
                () -> AtomicFileWriter.write(dir.resolve("no/such/dir/x.bin"), ch -> {}), "x.bin", "could not write");
    }

    @Test
    void safetensorsWriteFailingMidStreamKeepsPreviousFile() throws IOException {
        Path target = dir.resolve("model.safetensors");
        SafetensorsWriter.write(target, Map.of("w", Nd4j.ones(DataType.FLOAT, 3)), Map.of("v", "1"));
        byte[] before = Files.readAllBytes(target);

        Map<String, INDArray> tensors = new LinkedHashMap<>();
        tensors.put("first", Nd4j.rand(DataType.FLOAT, 512, 512)); // 1 MiB reaches the temp file first
        tensors.put("broken", new FailingArray(4, 5));
        tensors.put("never", Nd4j.ones(DataType.FLOAT, 2));
        IllegalStateException e = assertThrows(
                IllegalStateException.class, () -> SafetensorsWriter.write(target, tensors, Map.of("v", "2")));
        assertEquals(FailingArray.MESSAGE, e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(target));
        assertEquals(List.of("model.safetensors"), listing());
        try (SafetensorsReader r = SafetensorsReader.open(target)) {
            assertEquals("1", r.metadata().get("v"));
        }
    }

    @Test
    void npyWriteFailingMidStreamKeepsPreviousFile() throws IOException {
        Path target = dir.resolve("a.npy");
        NpyWriter.write(target, Nd4j.ones(DataType.DOUBLE, 4));
        byte[] before = Files.readAllBytes(target);
        assertThrows(IllegalStateException.class, () -> NpyWriter.write(target, new FailingArray(30, 40)));
        assertArrayEquals(before, Files.readAllBytes(target));
        assertEquals(List.of("a.npy"), listing());
    }

    /**
     * The real thing: a child JVM rewrites a file in a loop and is killed with SIGKILL at a random
     * moment. Whatever instant it dies, the file under the final name is one complete generation.
     */
    @Test
    void killingTheWriterNeverLeavesATruncatedFile() throws Exception {
        Path target = dir.resolve("live.safetensors");
        Random rnd = new Random(42);
        for (int round = 0; round < 3; round++) {
            Process child = new ProcessBuilder(
                            Path.of(System.getProperty("java.home"), "bin", "java")
                                    .toString(),
                            "-cp",
                            System.getProperty("java.class.path"),
                            "-Xmx512m",
                            RewriteForever.class.getName(),
                            target.toString())
                    .redirectErrorStream(true)
                    .start();
            try (BufferedReader out =
                    new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null && !line.startsWith("wrote")) {
                    // skip ND4J start-up chatter
                }
                assertTrue(line != null, "child JVM ended before writing");
                Thread.sleep(rnd.nextInt(400));
                child.destroyForcibly(); // SIGKILL: no finally blocks, no clean-up
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            }
            try (SafetensorsReader r = SafetensorsReader.open(target)) {
                long generation = r.read("generation").getLong(0);
                INDArray data = r.read("data");
                assertEquals(generation, data.minNumber().longValue());
                assertEquals(generation, data.maxNumber().longValue());
                assertEquals(generation, r.read("tail").getLong(0));
            }
            for (String name : listing()) {
                assertTrue(
                        name.equals("live.safetensors") || name.matches("\\.live\\.safetensors\\.[0-9a-f]+\\.tmp"),
                        name);
            }
        }
    }

    /** Child process for the kill test: writes generation 1, 2, 3, ... until killed. */
    static final class RewriteForever {
        public static void main(String[] args) {
            Path target = Path.of(args[0]);
            for (long generation = 1; ; generation++) {
                Map<String, INDArray> t = new LinkedHashMap<>();
                t.put("generation", Nd4j.scalar(DataType.LONG, generation));
                t.put("data", Nd4j.valueArrayOf(new long[] {1024, 1024}, (float) generation, DataType.FLOAT));
                t.put("tail", Nd4j.scalar(DataType.LONG, generation));
                SafetensorsWriter.write(target, t, Map.of());
                System.out.println("wrote " + generation);
            }
        }
    }
}
