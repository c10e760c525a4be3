package dev.loupe.store.harvest;

/**
 * What a harvest did.
 *
 * @param resumedFrom  sequences already in the store when this run started
 * @param sequences    sequences in the store now
 * @param rows         rows in the store now
 * @param newRows      rows this run computed
 * @param seconds      wall time of the forward-and-write loop
 */
public record HarvestResult(long resumedFrom, long sequences, long rows, long newRows, double seconds) {
    public double tokensPerSecond() {
        return seconds > 0 ? newRows / seconds : 0;
    }
}
