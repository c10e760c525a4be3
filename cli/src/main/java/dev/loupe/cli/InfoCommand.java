package dev.loupe.cli;

import dev.loupe.engine.loaders.ModelLoader;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe info --model PATH}: the model's config and parameter count, without loading its weights. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Prints a model's config and parameter count.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "PATH", description = "the model (see ./loupe --help)")
    String model;

    @Override
    public Integer call() {
        var cfg = ModelLoader.config(model);
        System.out.println(cfg);
        System.out.printf(Locale.ROOT, "parameters: %,d%n", cfg.parameterCount());
        return 0;
    }
}
