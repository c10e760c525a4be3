package dev.loupe.store.cli;

import dev.loupe.cli.Args;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.bench.StoreBenchmark;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.export.NpyExport;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.HarvestResult;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code ./loupe harvest ...} and {@code ./loupe store info|verify|export|bench ...}. Bad input: one line, exit 2. */
public final class StoreMain {
    static final String USAGE =
            """
            usage: ./loupe harvest --model M --corpus PATH[,PATH...] --hooks h1,h2 --context 128 --out DIR
                        [--batch 8] [--dtype f32|f16|bf16] [--max-tokens N] [--shard-mb 256] [--tokenizer PATH]
                        [--text-field text] [--text-docs lines|file] [--prepend-bos yes|no] [--separator bos|eos|none|ID]
                        [--begin-sequence none|bos|eos|ID] [--bos ID] [--quiet]
                        stores the hooks' activations; the same command again resumes an interrupted harvest
                   ./loupe store info DIR [--per-dim HOOK]      manifest, shards and per-hook statistics
                   ./loupe store verify DIR                     checks every shard's CRC32C (exit 2 naming a bad shard)
                   ./loupe store export DIR --out OUT [--hooks h1,h2]   <hook>.npy [rows, d] + tokens/sequence/position.npy
                   ./loupe store bench [--out DIR] [--shape gpt2-small] [--hook H] [--batch 8] [--context 128]
                        [--batches 6] [--write-mb 2048] [--dtype bf16] [--buffer-rows 1000000] [--stream-rows 1500000]
                        harvest vs plain forward, write MB/s vs dd, shuffled-stream GB/s
            Corpus files: .txt (a document per line; --text-docs file: per file), .jsonl (field --text-field),
            .npy (int32/int64 token ids: 1-D one document, 2-D a document per row); a folder means its files.""";

    private StoreMain() {}

    public static void main(String[] argv) {
        try {
            System.exit(run(argv));
        } catch (LoupeException e) {
            System.err.println("\nloupe: " + e.getMessage());
            System.exit(2);
        }
    }

    public static int run(String[] argv) {
        if (argv.length == 0 || argv[0].equals("--help")) {
            System.out.println(USAGE);
            return argv.length == 0 ? 2 : 0;
        }
        switch (argv[0]) {
            case "harvest" -> harvest(new Args(
                    "harvest",
                    argv,
                    1,
                    Set.of(
                            "model",
                            "corpus",
                            "hooks",
                            "context",
                            "out",
                            "batch",
                            "dtype",
                            "max-tokens",
                            "shard-mb",
                            "tokenizer",
                            "text-field",
                            "text-docs",
                            "prepend-bos",
                            "separator",
                            "begin-sequence",
                            "bos"),
                    Set.of("quiet")));
            case "store" -> {
                String what = argv.length < 2 ? "" : argv[1];
                switch (what) {
                    case "info" -> info(
                            dirArg(argv, "store info"), new Args("store info", argv, 3, Set.of("per-dim"), Set.of()));
                    case "verify" -> verify(
                            dirArg(argv, "store verify"), new Args("store verify", argv, 3, Set.of(), Set.of()));
                    case "export" -> export(
                            dirArg(argv, "store export"),
                            new Args("store export", argv, 3, Set.of("out", "hooks"), Set.of()));
                    case "bench" -> StoreBenchmark.run(new Args(
                            "store bench",
                            argv,
                            2,
                            Set.of(
                                    "out",
                                    "shape",
                                    "hook",
                                    "batch",
                                    "context",
                                    "batches",
                                    "write-mb",
                                    "dtype",
                                    "buffer-rows",
                                    "stream-rows"),
                            Set.of()));
                    default -> throw new LoupeException("store: expected info, verify, export or bench, got "
                            + (what.isEmpty() ? "nothing" : "'" + what + "'") + "\n" + USAGE);
                }
            }
            default -> throw new LoupeException("unknown command '" + argv[0] + "'\n" + USAGE);
        }
        return 0;
    }

    private static Path dirArg(String[] argv, String command) {
        if (argv.length < 3 || argv[2].startsWith("--"))
            throw new LoupeException(command + ": the store folder DIR is required");
        return Path.of(argv[2]);
    }

    private static void harvest(Args a) {
        String modelId = a.required("model");
        List<Path> corpusPaths = Arrays.stream(a.required("corpus").split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .map(Path::of)
                .toList();
        List<String> hooks = Arrays.stream(a.required("hooks").split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .toList();
        int context = a.integer("context", -1);
        if (context < 0) throw a.usage("--context is required");
        Path out = Path.of(a.required("out"));
        for (Path p : corpusPaths)
            if (!Files.exists(p)) throw new LoupeException("corpus file " + p + " does not exist");
        Path where = ModelLoader.locate(modelId);
        Tokenizer tokenizer = tokenizer(a, where);
        Corpus.TextDocs docs =
                switch (a.get("text-docs", "lines")) {
                    case "lines" -> Corpus.TextDocs.LINES;
                    case "file" -> Corpus.TextDocs.FILE;
                    default -> throw a.usage("--text-docs must be lines or file, got '" + a.get("text-docs", "") + "'");
                };
        Corpus corpus = Corpus.of(corpusPaths, tokenizer, a.get("text-field", "text"), docs);
        boolean prependBos =
                switch (a.get("prepend-bos", "yes")) {
                    case "yes", "true" -> true;
                    case "no", "false" -> false;
                    default -> throw a.usage("--prepend-bos must be yes or no");
                };
        Integer bos = prependBos ? special(a, "bos", tokenizer, "--prepend-bos") : null;
        Integer separator = token(a, "separator", "bos", tokenizer);
        Integer beginSequence = token(a, "begin-sequence", "none", tokenizer);
        long maxTokens = Long.parseLong(a.get("max-tokens", "0"));
        HarvestConfig cfg = new HarvestConfig(
                hooks,
                context,
                a.integer("batch", 8),
                StoreDType.parse(a.get("dtype", "f32")),
                maxTokens,
                a.number("shard-mb", 256),
                bos,
                beginSequence,
                separator);
        HookedTransformer model = ModelLoader.load(where.toString());
        String tokName = tokenizer == null
                ? null
                : tokenizerPath(a, where).toAbsolutePath().normalize().toString();
        HarvestResult r = Harvester.run(
                model,
                modelId,
                corpus,
                tokName,
                cfg,
                out,
                a.flag("quiet") ? Harvester.ProgressFactory.silent() : Harvester.ProgressFactory.stderr());
        if (r.newRows() == 0 && r.resumedFrom() == r.sequences())
            System.out.println(out + ": the store is already complete (" + r.rows() + " rows); nothing to do");
        else
            System.out.printf(
                    Locale.ROOT,
                    "%s: %d rows (%d sequences)%s; %d new rows at %.1f tokens/s%n",
                    out,
                    r.rows(),
                    r.sequences(),
                    r.resumedFrom() > 0 ? ", resumed after " + r.resumedFrom() + " sequences" : "",
                    r.newRows(),
                    r.tokensPerSecond());
    }

    /** A token option: bos, eos, none or an id. */
    private static Integer token(Args a, String option, String fallback, Tokenizer tok) {
        String v = a.get(option, fallback);
        return switch (v) {
            case "none" -> null;
            case "bos" -> special(a, "bos", tok, "--" + option + " bos");
            case "eos" -> {
                if (tok == null || tok.eosId().isEmpty())
                    throw a.usage("--" + option + " eos: no tokenizer with an EOS; give an id");
                yield tok.eosId().getAsInt();
            }
            default -> {
                try {
                    yield Integer.parseInt(v);
                } catch (NumberFormatException e) {
                    throw a.usage("--" + option + " must be bos, eos, none or a token id, got '" + v + "'");
                }
            }
        };
    }

    /** The BOS: --bos, else the tokenizer's (as TransformerLens prepends it). */
    private static Integer special(Args a, String option, Tokenizer tok, String why) {
        if (a.get("bos", null) != null) return a.integer("bos", 0);
        if (tok == null)
            throw a.usage(
                    why
                            + " needs the BOS id and no tokenizer was found: give --bos ID, or --prepend-bos no --separator none");
        return tok.bosForPrepending();
    }

    private static Path tokenizerPath(Args a, Path model) {
        if (a.get("tokenizer", null) != null) return Path.of(a.get("tokenizer", null));
        Path dir = Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
        for (String name : new String[] {"tokenizer.json", "vocab.json", "tokenizer.bin"})
            if (Files.isRegularFile(dir.resolve(name))) return dir;
        return null;
    }

    /** --tokenizer, else the model's folder, else a tokenizer.bin beside a llama2.c checkpoint; null when none. */
    private static Tokenizer tokenizer(Args a, Path model) {
        Path p = tokenizerPath(a, model);
        return p == null ? null : Tokenizers.load(p);
    }

    private static void info(Path dir, Args a) {
        try (ActivationStore s = ActivationStore.open(dir)) {
            StoreManifest m = s.manifest();
            System.out.println("store      " + dir
                    + (m.complete() ? " (complete)" : " (incomplete: run the same harvest to resume)"));
            System.out.println("model      " + m.model().id() + "  " + m.model().configHash() + "  weights crc32c "
                    + m.model().weightsCrc32c());
            System.out.println("rows       " + m.rows() + " (" + m.sequences() + " sequences x context "
                    + m.contextSize() + ") in " + m.shards().size() + " shards, dtype " + m.dtype());
            for (StoreManifest.HookInfo h : m.hooks()) System.out.println("hook       " + h.name() + "  d=" + h.d());
            for (StoreManifest.SourceInfo src : m.corpus().sources())
                System.out.println("corpus     " + src.path() + " (" + src.kind() + ", " + src.bytes() + " bytes)");
            System.out.println("chunking   begin_batch=" + m.corpus().beginBatchToken() + " begin_sequence="
                    + m.corpus().beginSequenceToken() + " separator="
                    + m.corpus().separatorToken()
                    + (m.corpus().tokenizer() == null
                            ? ""
                            : " tokenizer=" + m.corpus().tokenizer()));
            System.out.println(
                    "created    " + m.createdAt() + " batch=" + m.creation().batchSize() + " shard_sequences="
                            + m.creation().shardSequences() + " max_tokens="
                            + m.creation().maxTokens() + " stop_at_layer="
                            + m.creation().stopAtLayer());
            System.out.println(s.summary().print());
            String perDim = a.get("per-dim", null);
            if (perDim != null)
                System.out.println(s.statistics(perDim).perDimension().printAll());
        }
    }

    private static void verify(Path dir, Args a) {
        long bytes = 0;
        StoreManifest m = StoreManifest.read(dir);
        for (StoreManifest.ShardInfo s : m.shards())
            for (StoreManifest.FileEntry f : s.files().values()) bytes += f.bytes();
        try (ProgressBar bar = ProgressBar.onStderr("verify", 0, bytes, "bytes");
                ActivationStore s = ActivationStore.open(dir, Verify.FULL, bar)) {
            System.out.println(dir + ": ok, " + s.manifest().shards().size() + " shards, " + s.rows()
                    + " rows, every CRC32C matches");
        }
    }

    private static void export(Path dir, Args a) {
        Path out = Path.of(a.required("out"));
        try (ActivationStore s = ActivationStore.open(dir)) {
            List<String> hooks = a.get("hooks", null) == null
                    ? s.hooks()
                    : Arrays.stream(a.get("hooks", "").split(","))
                            .map(String::trim)
                            .toList();
            for (String h : hooks) s.d(h);
            try (ProgressBar bar = ProgressBar.onStderr("export", 0, s.rows() * hooks.size(), "rows")) {
                List<Path> files = NpyExport.export(s, out, hooks, bar);
                bar.close();
                files.forEach(f -> System.out.println("wrote " + f));
            }
        }
    }
}
