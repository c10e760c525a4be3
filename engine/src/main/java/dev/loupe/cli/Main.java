package dev.loupe.cli;

import dev.loupe.bench.ForwardBenchmark;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.GenerationResult;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.tokenizer.Utf8;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The {@code ./loupe} command line. Errors print one line naming what was wrong and exit 2. */
public final class Main {
    private static final String USAGE =
            """
            usage: ./loupe <command> [options]
              demo      [--out DIR] [--seq N] [--batch B] [--seed S]   induction heads in the embedded attn-only-2l:
                                                             head scores, and an HTML report in DIR (default loupe-demo)
              info      --model PATH                          config and parameter count
              logits    --model PATH --tokens "1 5 9" --out F.npy   next-token logits [n_tokens, d_vocab] as float32 .npy
              generate  --model PATH --tokens "1" --max-new-tokens N [--temperature T] [--top-k K] [--top-p P] [--seed S]
                        [--stop "2 3"] [--no-kv-cache]       prints the generated ids as its last line
              bench forward --shape gpt2-small|tiny --batch 4 --seq 256 [--cache all] [--iters N] [--warmup N]
                        [--seed S] [--vs-torch]              tokens/s; with --vs-torch, last line ratio_vs_torch=...
              bench load [--dtype bf16|f16|f32]              load time and peak memory of a GPT-2-small-sized HF checkpoint
              bench train --model attn-only-2l|modadd-1l --batch 64 --seq 64 [--steps N] [--warmup N] [--shards N] [--vs-torch]
                                                             optimizer steps/s; with --vs-torch, last line ratio_vs_torch=...
              tokenize  --tokenizer PATH --file F [--bos] [--allow-special]   one {"ids":[...]} JSON line per line of F
                        (PATH: a folder, tokenizer.json, vocab.json + merges.txt beside it, or llama2.c tokenizer.bin)
              train     --task induction|modadd --out DIR [--steps N] [--seed S] [--lr X] [--batch B] [--weight-decay W]
                        [--schedule constant|cosine] [--eval-every N] [--checkpoint-every N] [--shards N]
                                                             trains a zoo model (resumes from DIR's checkpoints)
              test                                            run every test (handled by the launcher)
            logits and generate take --prompt TEXT instead of --tokens where a tokenizer is found (the model folder,
            tokenizer.bin beside a llama2.c .bin, or --tokenizer PATH); BOS is prepended as TransformerLens does.
            PATH is a Loupe checkpoint folder, a Hugging Face model folder, a llama2.c .bin file, an embedded zoo model
            (attn-only-2l, modadd-1l), or a Hugging Face model id (e.g. gpt2), found in the Hugging Face cache or
            downloaded into it.""";

    private Main() {}

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
            case "logits" -> logits(
                    new Args("logits", argv, 1, Set.of("model", "tokens", "prompt", "tokenizer", "out"), Set.of()));
            case "generate" -> generate(new Args(
                    "generate",
                    argv,
                    1,
                    Set.of(
                            "model",
                            "tokens",
                            "prompt",
                            "tokenizer",
                            "max-new-tokens",
                            "temperature",
                            "top-k",
                            "top-p",
                            "seed",
                            "stop"),
                    Set.of("no-kv-cache")));
            case "bench" -> {
                String what = argv.length < 2 ? "" : argv[1];
                switch (what) {
                    case "forward" -> ForwardBenchmark.run(new Args(
                            "bench forward",
                            argv,
                            2,
                            Set.of("shape", "batch", "seq", "cache", "iters", "warmup", "seed"),
                            Set.of("vs-torch")));
                    case "load" -> dev.loupe.bench.LoadBenchmark.run(
                            new Args("bench load", argv, 2, Set.of("dtype"), Set.of()));
                    case "train" -> dev.loupe.bench.TrainBenchmark.run(new Args(
                            "bench train",
                            argv,
                            2,
                            Set.of("model", "batch", "seq", "steps", "warmup", "shards"),
                            Set.of("vs-torch")));
                    default -> throw new LoupeException(
                            "bench: expected 'bench forward', 'bench load' or 'bench train', got "
                                    + (what.isEmpty() ? "nothing" : "'" + what + "'"));
                }
            }
            case "demo" -> DemoCommand.run(new Args("demo", argv, 1, DemoCommand.OPTIONS, Set.of()));
            case "train" -> TrainCommand.run(new Args("train", argv, 1, TrainCommand.OPTIONS, Set.of()));
            case "tokenize" -> tokenize(
                    new Args("tokenize", argv, 1, Set.of("tokenizer", "file"), Set.of("bos", "allow-special")));
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

    /** The prompt's token ids: --tokens as given, or --prompt through the model's tokenizer (BOS prepended). */
    private static int[] promptIds(Args a, Path model) {
        if (a.get("tokens", null) != null) {
            if (a.get("prompt", null) != null) throw a.usage("give --tokens or --prompt, not both");
            return a.tokens("tokens");
        }
        if (a.get("prompt", null) == null) throw a.usage("--tokens or --prompt is required");
        return tokenizerFor(a, model).toTokens(a.get("prompt", ""));
    }

    /** --tokenizer, else the model's folder, else a tokenizer.bin beside a llama2.c checkpoint. */
    private static Tokenizer tokenizerFor(Args a, Path model) {
        if (a.get("tokenizer", null) != null) return Tokenizers.load(Path.of(a.get("tokenizer", null)));
        Path dir = java.nio.file.Files.isDirectory(model)
                ? model
                : model.toAbsolutePath().getParent();
        for (String name : new String[] {"tokenizer.json", "vocab.json", "tokenizer.bin"})
            if (java.nio.file.Files.isRegularFile(dir.resolve(name))) return Tokenizers.load(dir);
        throw a.usage("--prompt needs a tokenizer: none found in " + dir + "; pass --tokenizer PATH or use --tokens");
    }

    private static void logits(Args a) {
        Path where = dev.loupe.engine.loaders.ModelLoader.locate(a.required("model"));
        int[] ids = promptIds(a, where);
        HookedTransformer model = loadModel(where.toString());
        Path out = Path.of(a.required("out"));
        INDArray logits = model.run(ids).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        NpyWriter.write(out, logits.castTo(DataType.FLOAT).dup('c'));
        System.out.println("wrote " + out + " " + Arrays.toString(logits.shape()) + " float32");
    }

    private static void generate(Args a) {
        Path where = dev.loupe.engine.loaders.ModelLoader.locate(a.required("model"));
        int[] prompt = promptIds(a, where);
        HookedTransformer model = loadModel(where.toString());
        SamplingConfig.Builder b = SamplingConfig.builder()
                .maxNewTokens(a.integer("max-new-tokens", 16))
                .temperature(a.number("temperature", 1.0))
                .topK(a.integer("top-k", 0))
                .topP(a.number("top-p", 1.0))
                .seed(a.integer("seed", 0))
                .useKvCache(!a.flag("no-kv-cache"));
        if (a.get("stop", null) != null) b.stopTokens(a.tokens("stop"));
        GenerationResult r = Generator.generate(model, Tokens.of(prompt), b.build());
        if (a.get("prompt", null) != null)
            System.out.println(tokenizerFor(a, where).decode(r.sequence(0)));
        System.out.println(
                Arrays.stream(r.generated(0)).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
    }

    /** Lines end at \n (a \r before it is dropped); the file's last newline does not start another line. */
    private static void tokenize(Args a) {
        Tokenizer tok = Tokenizers.load(Path.of(a.required("tokenizer")));
        Path file = Path.of(a.required("file"));
        byte[] bytes;
        try {
            bytes = java.nio.file.Files.readAllBytes(file);
        } catch (java.io.IOException e) {
            throw new LoupeException("--file " + file + ": cannot read: " + e.getMessage(), e);
        }
        String text = Utf8.decodeStrict(bytes, file.toString());
        if (text.isEmpty()) return;
        String[] lines = (text.endsWith("\n") ? text.substring(0, text.length() - 1) : text).split("\n", -1);
        StringBuilder out = new StringBuilder();
        for (String line : lines) {
            if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
            int[] body = tok.encode(line, a.flag("allow-special"));
            int[] ids = body;
            if (a.flag("bos")) {
                ids = new int[body.length + 1];
                ids[0] = tok.bosForPrepending();
                System.arraycopy(body, 0, ids, 1, body.length);
            }
            out.setLength(0);
            out.append("{\"ids\":[");
            for (int i = 0; i < ids.length; i++) out.append(i == 0 ? "" : ",").append(ids[i]);
            System.out.println(out.append("]}"));
        }
    }
}
