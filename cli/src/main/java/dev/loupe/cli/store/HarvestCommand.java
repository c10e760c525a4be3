package dev.loupe.cli.store;

import dev.loupe.cli.ModelTokenizer;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.store.StoreDType;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.HarvestResult;
import dev.loupe.store.harvest.Harvester;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe harvest}: stores hooks' activations over a corpus; the same command again resumes. */
@Command(
        name = "harvest",
        mixinStandardHelpOptions = true,
        description = {
            "Stores the hooks' activations over a corpus (the same command again resumes).",
            "Writes crash-safe shards. Corpus files: .txt (a document per line; --text-docs file: per file), .jsonl",
            "(field --text-field), .npy (int32/int64 token ids: 1-D one document, 2-D a document per row); a folder",
            "means its files. --spark MASTER runs it on a Spark cluster: the same store, byte for byte; the store",
            "folder, corpus and model must be on a filesystem every executor reaches (docs/scale-out.md)."
        })
public final class HarvestCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "M", description = "the model (see ./loupe --help)")
    String model;

    @Option(names = "--corpus", required = true, paramLabel = "PATH[,PATH...]", description = "corpus files or folders")
    String corpus;

    @Option(
            names = "--hooks",
            required = true,
            paramLabel = "h1,h2",
            description = "hook names (blocks.4.hook_resid_post or resid_post4)")
    String hooks;

    @Option(names = "--context", required = true, paramLabel = "N", description = "tokens per stored sequence")
    int context;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the store folder")
    Path out;

    @Option(
            names = "--batch",
            paramLabel = "B",
            defaultValue = "8",
            description = "sequences per forward; default: ${DEFAULT-VALUE}")
    int batch;

    @Option(
            names = "--dtype",
            paramLabel = "TYPE",
            defaultValue = "f32",
            description = "f32, f16 or bf16 on disk; default: ${DEFAULT-VALUE}")
    String dtype;

    @Option(
            names = "--max-tokens",
            paramLabel = "N",
            defaultValue = "0",
            description = "stop after N tokens (0: the whole corpus)")
    long maxTokens;

    @Option(
            names = "--shard-mb",
            paramLabel = "MB",
            defaultValue = "256",
            description = "shard size; default: ${DEFAULT-VALUE}")
    double shardMb;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "for text corpora (default: the model's own)")
    Path tokenizer;

    @Option(
            names = "--text-field",
            paramLabel = "NAME",
            defaultValue = "text",
            description = ".jsonl field; default: ${DEFAULT-VALUE}")
    String textField;

    @Option(
            names = "--text-docs",
            paramLabel = "lines|file",
            defaultValue = "lines",
            description = ".txt documents: a line or a file; default: ${DEFAULT-VALUE}")
    String textDocs;

    @Option(
            names = "--prepend-bos",
            paramLabel = "yes|no",
            defaultValue = "yes",
            description = "BOS first in every batch's sequences; default: ${DEFAULT-VALUE}")
    String prependBos;

    @Option(
            names = "--separator",
            paramLabel = "bos|eos|none|ID",
            defaultValue = "bos",
            description = "token between documents; default: ${DEFAULT-VALUE}")
    String separator;

    @Option(
            names = "--begin-sequence",
            paramLabel = "none|bos|eos|ID",
            defaultValue = "none",
            description = "token starting each document; default: ${DEFAULT-VALUE}")
    String beginSequence;

    @Option(names = "--bos", paramLabel = "ID", description = "the BOS id (default: the tokenizer's)")
    Integer bos;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Option(
            names = "--spark",
            paramLabel = "MASTER",
            description = "run on Spark: local[N], spark://HOST:PORT, yarn, k8s://..., or default (spark-submit's)")
    String spark;

    @Option(
            names = "--spark-conf",
            paramLabel = "KEY=VALUE",
            description = "a Spark setting for --spark (repeatable), e.g. spark.executor.memory=8g")
    Map<String, String> sparkConf = new LinkedHashMap<>();

    @Override
    public Integer call() {
        List<Path> corpusPaths = Arrays.stream(corpus.split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .map(Path::of)
                .toList();
        List<String> hookNames = Arrays.stream(hooks.split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .toList();
        if (context < 0) throw usage("--context must be >= 0, got " + context);
        for (Path p : corpusPaths)
            if (!Files.exists(p)) throw new LoupeException("corpus file " + p + " does not exist");
        Path where = ModelLoader.locate(model);
        ModelTokenizer.Found found = ModelTokenizer.find(tokenizer, where);
        Tokenizer tok = found == null ? null : found.tokenizer();
        Corpus.TextDocs docs =
                switch (textDocs) {
                    case "lines" -> Corpus.TextDocs.LINES;
                    case "file" -> Corpus.TextDocs.FILE;
                    default -> throw usage("--text-docs must be lines or file, got '" + textDocs + "'");
                };
        Corpus c = Corpus.of(corpusPaths, tok, textField, docs);
        boolean prepend =
                switch (prependBos) {
                    case "yes", "true" -> true;
                    case "no", "false" -> false;
                    default -> throw usage("--prepend-bos must be yes or no");
                };
        Integer bosId = prepend ? special(tok, "--prepend-bos") : null;
        Integer separatorId = token("--separator", separator, tok);
        Integer beginSequenceId = token("--begin-sequence", beginSequence, tok);
        HarvestConfig cfg = new HarvestConfig(
                hookNames,
                context,
                batch,
                StoreDType.parse(dtype),
                maxTokens,
                shardMb,
                bosId,
                beginSequenceId,
                separatorId);
        HookedTransformer m = ModelLoader.load(where.toString());
        String tokName = found == null ? null : found.source();
        Harvester.ProgressFactory progress =
                quiet ? Harvester.ProgressFactory.silent() : Harvester.ProgressFactory.stderr();
        if (spark != null) return SparkHarvestCommand.run(spark, sparkConf, m, model, c, tokName, cfg, out, progress);
        if (!sparkConf.isEmpty()) throw usage("--spark-conf needs --spark MASTER");
        HarvestResult r = Harvester.run(m, model, c, tokName, cfg, out, progress);
        report(out, r, "");
        return 0;
    }

    /** The line a harvest ends with; {@code where} says where it ran when not here. */
    static void report(Path out, HarvestResult r, String where) {
        if (r.newRows() == 0 && r.resumedFrom() == r.sequences())
            System.out.println(out + ": the store is already complete (" + r.rows() + " rows); nothing to do");
        else
            System.out.printf(
                    Locale.ROOT,
                    "%s: %d rows (%d sequences)%s; %d new rows at %.1f tokens/s%s%n",
                    out,
                    r.rows(),
                    r.sequences(),
                    r.resumedFrom() > 0 ? ", resumed after " + r.resumedFrom() + " sequences" : "",
                    r.newRows(),
                    r.tokensPerSecond(),
                    where);
    }

    private static LoupeException usage(String message) {
        return new LoupeException("harvest: " + message);
    }

    /** A token option: bos, eos, none or an id. */
    private Integer token(String option, String v, Tokenizer tok) {
        return switch (v) {
            case "none" -> null;
            case "bos" -> special(tok, option + " bos");
            case "eos" -> {
                if (tok == null || tok.eosId().isEmpty())
                    throw usage(option + " eos: no tokenizer with an EOS; give an id");
                yield tok.eosId().getAsInt();
            }
            default -> {
                try {
                    yield Integer.parseInt(v);
                } catch (NumberFormatException e) {
                    throw usage(option + " must be bos, eos, none or a token id, got '" + v + "'");
                }
            }
        };
    }

    /** The BOS: --bos, else the tokenizer's (as TransformerLens prepends it). */
    private Integer special(Tokenizer tok, String why) {
        if (bos != null) return bos;
        if (tok == null)
            throw usage(
                    why
                            + " needs the BOS id and no tokenizer was found: give --bos ID, or --prepend-bos no --separator none");
        return tok.bosForPrepending();
    }
}
