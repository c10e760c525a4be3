package dev.loupe.store.read;

/** How much {@link ActivationStore#open} checks. */
public enum Verify {
    /**
     * Every listed file exists with the recorded size and a header of the recorded dtype and shape,
     * and the small per-shard files (rows, stats) match their CRC32C. Reads no activation data.
     */
    FAST,
    /** {@link #FAST}, plus the CRC32C of every activation file's data (reads the whole store). */
    FULL
}
