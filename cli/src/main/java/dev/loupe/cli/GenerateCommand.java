package dev.loupe.cli;

import dev.loupe.engine.generate.GenerationResult;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./loupe generate}: greedy or sampled continuation; the generated ids are the last line. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = {
            "Generates a continuation of --tokens or --prompt; prints the generated ids as its last line.",
            "Greedy with --temperature 0, else sampled; with --prompt, the text is printed first."
        })
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "PATH", description = "the model (see ./loupe --help)")
    String model;

    @Mixin
    PromptOptions input;

    @Option(
            names = "--max-new-tokens",
            paramLabel = "N",
            defaultValue = "16",
            description = "default: ${DEFAULT-VALUE}")
    int maxNewTokens;

    @Option(
            names = "--temperature",
            paramLabel = "T",
            defaultValue = "1.0",
            description = "0: greedy; default: ${DEFAULT-VALUE}")
    double temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "0: off; default: ${DEFAULT-VALUE}")
    int topK;

    @Option(
            names = "--top-p",
            paramLabel = "P",
            defaultValue = "1.0",
            description = "nucleus sampling; default: ${DEFAULT-VALUE}")
    double topP;

    @Option(
            names = "--seed",
            paramLabel = "S",
            defaultValue = "0",
            description = "sampling seed; default: ${DEFAULT-VALUE}")
    int seed;

    @Option(
            names = "--stop",
            paramLabel = "IDS",
            converter = TokenIds.Converter.class,
            description = "token ids that end a sequence (\"2 3\")")
    TokenIds stop;

    @Option(names = "--no-kv-cache", description = "recompute every position at every step")
    boolean noKvCache;

    @Override
    public Integer call() {
        Path where = ModelLoader.locate(model);
        int[] prompt = input.ids("generate", where);
        HookedTransformer m = ModelLoader.load(where.toString());
        SamplingConfig.Builder b = SamplingConfig.builder()
                .maxNewTokens(maxNewTokens)
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .seed(seed)
                .useKvCache(!noKvCache);
        if (stop != null) b.stopTokens(stop.ids());
        GenerationResult r = Generator.generate(m, Tokens.of(prompt), b.build());
        if (input.prompt != null)
            System.out.println(input.tokenizer("generate", where).decode(r.sequence(0)));
        System.out.println(
                Arrays.stream(r.generated(0)).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
        return 0;
    }
}
