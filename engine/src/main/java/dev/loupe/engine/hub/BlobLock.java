package dev.loupe.engine.hub;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps two downloads of the same blob from writing one {@code .incomplete} file at once: a lock
 * per lock-file path inside this JVM (Java file locks are held per process, so threads need their
 * own) plus an OS file lock on {@code .locks/models--org--name/<etag>.lock} against other
 * processes. The OS lock is released when the process dies, so a crash leaves no stale lock.
 *
 * <p>Java's file locks are POSIX record locks; Python's filelock uses {@code flock}, a different
 * kind on Linux, so this guards Loupe processes against each other, not against a concurrent
 * huggingface_hub download. Where the file system refuses locks (some network mounts) only the
 * in-process lock is taken.
 */
final class BlobLock implements AutoCloseable {

    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private final ReentrantLock threadLock;
    private final FileChannel channel;
    private final FileLock fileLock;

    private BlobLock(ReentrantLock threadLock, FileChannel channel, FileLock fileLock) {
        this.threadLock = threadLock;
        this.channel = channel;
        this.fileLock = fileLock;
    }

    static BlobLock acquire(Path lockFile) {
        ReentrantLock threadLock =
                IN_PROCESS.computeIfAbsent(lockFile.toAbsolutePath().normalize(), p -> new ReentrantLock());
        threadLock.lock();
        FileChannel channel = null;
        boolean ok = false;
        try {
            HubCache.createDirectories(lockFile.getParent());
            BlobLock lock;
            try {
                channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                lock = new BlobLock(threadLock, channel, channel.lock());
            } catch (IOException e) {
                // No OS locks here: the in-process lock still orders this JVM's downloads.
                closeQuietly(channel);
                channel = null;
                lock = new BlobLock(threadLock, null, null);
            }
            ok = true;
            return lock;
        } finally {
            if (!ok) {
                closeQuietly(channel);
                threadLock.unlock();
            }
        }
    }

    @Override
    public void close() {
        try {
            if (fileLock != null) {
                fileLock.release();
            }
        } catch (IOException e) {
            // closing the channel releases it anyway
        } finally {
            closeQuietly(channel);
            threadLock.unlock();
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                // nothing to do
            }
        }
    }
}
