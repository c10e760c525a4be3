package dev.loupe.store.bench;

import dev.loupe.cli.Args;

/** {@code ./loupe store bench}. */
public final class StoreBenchmark {
    private StoreBenchmark() {
    }

    public static void run(Args a) {
        throw new dev.loupe.engine.LoupeException("store bench: not written yet");
    }
}
