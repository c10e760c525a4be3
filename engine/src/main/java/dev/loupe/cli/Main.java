package dev.loupe.cli;

import dev.loupe.bench.ForwardBenchmark;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.GenerationResult;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.loaders.Llama2cCheckpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/** The {@code ./loupe} command line. Errors print one line naming what was wrong and exit 2. */
public final class Main {
    private static final String USAGE = """
            usage: ./loupe <command> [options]
              info      --model PATH                          config and parameter count
              logits    --model PATH --tokens "1 5 9" --out F.npy   next-token logits [n_tokens, d_vocab] as float32 .npy
              generate  --model PATH --tokens "1" --max-new-tokens N [--temperature T] [--top-k K] [--top-p P] [--seed S]
                        [--stop "2 3"] [--no-kv-cache]       prints the generated ids as its last line
              bench forward --shape gpt2-small|tiny --batch 4 --seq 256 [--cache all] [--iters N] [--warmup N]
                        [--seed S] [--vs-torch]              tokens/s; with --vs-torch, last line ratio_vs_torch=...
              test                                            run every test (handled by the launcher)
            PATH is a Loupe checkpoint folder (config.json + model.safetensors) or a llama2.c checkpoint file (.bin).""";

    private Main() {
    }

    public static void main(String[] argv) {
        try {
            System.exit(run(argv));
        } catch (LoupeException e) {
            System.err.println("loupe: " + e.getMessage());
            System.exit(2);
        }
    }

    static int run(String[] argv) {
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help")) {
            System.out.println(USAGE);
            return argv.length == 0 ? 2 : 0;
        }
        switch (argv[0]) {
            case "info" -> info(new Args("info", argv, 1, Set.of("model"), Set.of()));
            case "logits" -> logits(new Args("logits", argv, 1, Set.of("model", "tokens", "out"), Set.of()));
            case "generate" -> generate(new Args("generate", argv, 1,
                    Set.of("model", "tokens", "max-new-tokens", "temperature", "top-k", "top-p", "seed", "stop"), Set.of("no-kv-cache")));
            case "bench" -> {
                if (argv.length < 2 || !argv[1].equals("forward"))
                    throw new LoupeException("bench: expected 'bench forward', got " + (argv.length < 2 ? "nothing" : "'" + argv[1] + "'"));
                ForwardBenchmark.run(new Args("bench forward", argv, 2,
                        Set.of("shape", "batch", "seq", "cache", "iters", "warmup", "seed"), Set.of("vs-torch")));
            }
            default -> throw new LoupeException("unknown command '" + argv[0] + "'\n" + USAGE);
        }
        return 0;
    }

    static HookedTransformer loadModel(String path) {
        return dev.loupe.engine.loaders.ModelLoader.load(path);
    }

    private static void info(Args a) {
        String path = a.required("model");
        var cfg = dev.loupe.engine.loaders.ModelLoader.config(path);
        System.out.println(cfg);
        System.out.printf(java.util.Locale.ROOT, "parameters: %,d%n", cfg.parameterCount());
    }

    private static void logits(Args a) {
        HookedTransformer model = loadModel(a.required("model"));
        int[] ids = a.tokens("tokens");
        Path out = Path.of(a.required("out"));
        INDArray logits = model.run(ids).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        NpyWriter.write(out, logits.castTo(DataType.FLOAT).dup('c'));
        System.out.println("wrote " + out + " " + Arrays.toString(logits.shape()) + " float32");
    }

    private static void generate(Args a) {
        HookedTransformer model = loadModel(a.required("model"));
        int[] prompt = a.tokens("tokens");
        SamplingConfig.Builder b = SamplingConfig.builder()
                .maxNewTokens(a.integer("max-new-tokens", 16))
                .temperature(a.number("temperature", 1.0))
                .topK(a.integer("top-k", 0))
                .topP(a.number("top-p", 1.0))
                .seed(a.integer("seed", 0))
                .useKvCache(!a.flag("no-kv-cache"));
        if (a.get("stop", null) != null) b.stopTokens(a.tokens("stop"));
        GenerationResult r = Generator.generate(model, Tokens.of(prompt), b.build());
        System.out.println(Arrays.stream(r.generated(0)).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
    }
}
