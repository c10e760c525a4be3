package dev.loupe.engine.io;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file's contents all at once or not at all.
 *
 * <p>The content is written to a temporary file in the target's own directory (so the final rename
 * stays on one file system), forced to disk with {@link FileChannel#force(boolean)}, and then
 * renamed over the target with {@link StandardCopyOption#ATOMIC_MOVE}. A process killed at any
 * point therefore leaves either the old file or the complete new one under the target name —
 * never a truncated one. If writing fails with an exception the temporary file is deleted and the
 * target is untouched; a process killed outright may leave a temporary file named
 * {@code .<target name>.<random>.tmp} behind, which is safe to delete.
 *
 * <p>The temporary file is created with the default permissions (umask), like any new file —
 * not the owner-only permissions of {@link Files#createTempFile}. A symbolic link at the target is
 * replaced by a regular file rather than written through.
 */
public final class AtomicFileWriter {

    /** Writes a file's complete content to a channel positioned at its start. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFileWriter() {}

    /**
     * Atomically replaces (or creates) {@code target} with what {@code content} writes.
     *
     * @throws LoupeException wrapping the {@link IOException} if the file cannot be written;
     *     exceptions thrown by {@code content} itself propagate unchanged (after clean-up)
     */
    public static void write(Path target, Content content) {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Path temp = dir.resolve("." + absolute.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        boolean created = false;
        boolean moved = false;
        try {
            // CREATE_NEW: never clobber (or later delete) a file we did not create.
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                created = true;
                content.writeTo(ch);
                ch.force(true);
            }
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
            syncDirectory(dir);
        } catch (IOException e) {
            throw new LoupeException(target + ": could not write file: " + e, e);
        } finally {
            if (created && !moved) {
                deleteQuietly(temp);
            }
        }
    }

    /**
     * Makes the rename itself durable. Linux supports fsync on a directory; other systems may not
     * (Windows refuses to open one), and there the rename is as durable as the OS makes it.
     */
    public static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort, see above
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // the original failure matters more than a leftover temporary file
        }
    }
}
