package dev.loupe.cli.sae;

import dev.loupe.saes.Sae;
import dev.loupe.saes.io.SaeSource;
import picocli.CommandLine.Option;

/** {@code --sae}: the SAE a command reads, as a folder, a Hugging Face folder or a zoo name (a picocli mixin). */
final class SaeOption {
    @Option(
            names = "--sae",
            required = true,
            paramLabel = "DIR",
            description = "an SAELens folder, hf:org/repo/folder, or a zoo SAE")
    String sae;

    Sae load() {
        return SaeSource.load(sae);
    }
}
