package dev.loupe.notebooks.kernel;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * One cell's stdout or stderr: caps what a cell may print (a cell printing megabytes would make the
 * notebook unusable) and batches small writes, because each forwarded write becomes one Jupyter
 * message. Forwards when the batch is large or old, on {@link #flushNow()} (the kernel calls it
 * periodically and at the end of the cell), and never more than {@code limitBytes} per cell.
 */
final class CellOutput extends OutputStream {

    private static final int BATCH_BYTES = 64 * 1024;
    private static final long BATCH_MILLIS = 100;

    private final PrintStream target;
    private final String streamName;
    private final long limitBytes;
    private final ByteArrayOutputStream batch = new ByteArrayOutputStream();
    private long forwarded;
    private long dropped;
    private long lastForward = System.currentTimeMillis();

    CellOutput(PrintStream target, String streamName, long limitBytes) {
        this.target = target;
        this.streamName = streamName;
        this.limitBytes = limitBytes;
    }

    PrintStream printStream() {
        return new PrintStream(this, true, StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        long room = limitBytes - forwarded - batch.size();
        if (room <= 0) {
            dropped += len;
            return;
        }
        int take = (int) Math.min(len, room);
        batch.write(b, off, take);
        if (take < len) {
            dropped += len - take;
            batch.writeBytes(note().getBytes(StandardCharsets.UTF_8));
            forward();
        }
    }

    private String note() {
        return "\n[loupe] output truncated: this cell printed more than " + limitBytes
                + " bytes to " + streamName + "; the rest is dropped (LOUPE_MAX_OUTPUT_BYTES sets the limit;"
                + " write large results to a file)\n";
    }

    /** Called after each println: forwards only when the batch is big or old enough. */
    @Override
    public synchronized void flush() {
        if (batch.size() >= BATCH_BYTES || System.currentTimeMillis() - lastForward >= BATCH_MILLIS) forward();
    }

    synchronized void flushNow() {
        forward();
    }

    /** Forwards what is pending and, if output was dropped, how much. */
    synchronized void finish() {
        if (dropped > 0) {
            batch.writeBytes(("[loupe] " + dropped + " bytes of " + streamName + " output were dropped\n")
                    .getBytes(StandardCharsets.UTF_8));
        }
        forward();
    }

    private void forward() {
        lastForward = System.currentTimeMillis();
        if (batch.size() == 0) return;
        forwarded += batch.size();
        target.write(batch.toByteArray(), 0, batch.size());
        target.flush();
        batch.reset();
    }
}
