package dev.loupe.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.loaders.ModelSummary;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./loupe info --model M [--json]}: what a model is (family, dims, parameter count, dtype, tokenizer,
 * hook count), read from its config and headers without loading its weights.
 */
@Command(
        name = "info",
        mixinStandardHelpOptions = true,
        description = {
            "Prints a model's family, sizes, parameter count, dtype, tokenizer and hook count.",
            "Reads the config and the weights' headers only; --json prints the same as one JSON object."
        })
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "PATH", description = "the model (see ./loupe --help)")
    String model;

    @Option(names = "--json", description = "print the summary (and the full config) as JSON, for machines")
    boolean json;

    @Override
    public Integer call() {
        ModelSummary summary = ModelSummary.of(model);
        System.out.println(json ? asJson(summary) : summary.toText());
        return 0;
    }

    /** snake_case keys, as the config's own and as Python users expect ({@code hook_points}, {@code d_model}). */
    private static String asJson(ModelSummary summary) {
        try {
            return Json.fileFormat().writeValueAsString(summary);
        } catch (JsonProcessingException e) {
            throw new LoupeException("info: cannot write the summary as JSON: " + e.getMessage(), e);
        }
    }
}
