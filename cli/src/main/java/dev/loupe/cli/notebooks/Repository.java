package dev.loupe.cli.notebooks;

import java.nio.file.Path;

/** The repository the launcher runs from ({@code -Dloupe.repo}); the kernelspec and notebooks live there. */
final class Repository {
    private Repository() {}

    static Path root() {
        return Path.of(System.getProperty("loupe.repo", "")).toAbsolutePath();
    }
}
