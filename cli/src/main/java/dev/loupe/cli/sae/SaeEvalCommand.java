package dev.loupe.cli.sae;

import dev.loupe.cli.ModelTokenizer;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.saes.Sae;
import dev.loupe.saes.eval.EvalConfig;
import dev.loupe.saes.eval.SaeEvalReport;
import dev.loupe.saes.eval.SaeEvals;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.corpus.Corpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./loupe sae eval}: SAELens's evaluations of an SAE on a model and a corpus. */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description = {
            "Evaluates an SAE spliced into its model over a corpus (SAELens's evals).",
            "L0, MSE, explained variance, cosine similarity, shrinkage, dead/dense latents, and CE loss with the SAE vs",
            "clean vs zero-ablated (ce_loss_score: CE loss recovered) and the KL divergence. The corpus is chunked",
            "as for harvest (BOS first, BOS between documents); BOS positions are left out, as SAELens leaves out",
            "special tokens."
        })
public final class SaeEvalCommand implements Callable<Integer> {
    @Mixin
    SaeOption sae;

    @Option(names = "--model", required = true, paramLabel = "M", description = "the model (see ./loupe --help)")
    String model;

    @Option(
            names = "--corpus",
            required = true,
            paramLabel = "PATH[,PATH...]",
            description = ".txt, .jsonl or .npy token ids, or folders")
    String corpus;

    @Option(
            names = "--context",
            paramLabel = "N",
            description = "tokens per sequence (default: the SAE's context_size, else 128)")
    Integer context;

    @Option(
            names = "--batch",
            paramLabel = "B",
            defaultValue = "8",
            description = "sequences per forward pass; default: ${DEFAULT-VALUE}")
    int batch;

    @Option(
            names = "--max-tokens",
            paramLabel = "N",
            defaultValue = "32768",
            description = "tokens evaluated (whole sequences); default: ${DEFAULT-VALUE}")
    long maxTokens;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "for text corpora (default: the model's own)")
    Path tokenizer;

    @Option(names = "--bos", paramLabel = "ID", description = "the BOS id (default: the tokenizer's)")
    Integer bos;

    @Option(names = "--csv", paramLabel = "FILE", description = "also write the metrics as CSV")
    Path csv;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Override
    public Integer call() {
        Sae s = sae.load();
        Path where = ModelLoader.locate(model);
        HookedTransformer m = ModelLoader.load(where.toString());
        ModelTokenizer.Found found = ModelTokenizer.find(tokenizer, where);
        Tokenizer tok = found == null ? null : found.tokenizer();
        Integer bosId = bos != null ? bos : tok != null ? tok.bosForPrepending() : null;
        int ctx = context != null
                ? context
                : s.config().contextSize() > 0 ? s.config().contextSize() : 128;
        if (ctx < 2 || ctx > m.config().nCtx())
            throw new LoupeException(
                    "sae eval: --context must be in [2, n_ctx = " + m.config().nCtx() + "], got " + ctx);
        if (batch < 1) throw new LoupeException("sae eval: --batch must be >= 1, got " + batch);
        List<Path> paths = Arrays.stream(corpus.split(","))
                .map(String::trim)
                .filter(p -> !p.isEmpty())
                .map(Path::of)
                .toList();
        for (Path p : paths) if (!Files.exists(p)) throw new LoupeException("corpus file " + p + " does not exist");
        Corpus c = Corpus.of(paths, tok, "text", Corpus.TextDocs.LINES);
        if (c.hasText() && tok == null)
            throw new LoupeException("sae eval: the corpus has text but no tokenizer was found (give --tokenizer)");
        Chunker chunks = new Chunker(c.documents(), ctx, bosId, null, bosId);
        List<Tokens> batches = new ArrayList<>();
        List<int[]> current = new ArrayList<>();
        long tokens = 0;
        while (chunks.hasNext() && tokens + ctx <= Math.max(ctx, maxTokens)) {
            current.add(chunks.next());
            tokens += ctx;
            if (current.size() == batch) {
                batches.add(Tokens.of(current.toArray(int[][]::new)));
                current.clear();
            }
        }
        if (!current.isEmpty()) batches.add(Tokens.of(current.toArray(int[][]::new)));
        if (batches.isEmpty())
            throw new LoupeException(
                    "sae eval: the corpus " + corpus + " holds less than one sequence of " + ctx + " tokens");
        SaeEvalReport report;
        try (ProgressBar bar =
                quiet ? ProgressBar.silent() : ProgressBar.onStderr("sae eval", 0, batches.size(), "batches")) {
            report = SaeEvals.withModel(m, s, batches, EvalConfig.ignoring(bosId), bar);
        }
        System.out.println(report.table().printAll());
        if (csv != null) report.table().write().csv(csv.toFile());
        System.out.printf(
                Locale.ROOT,
                "%s on %s, %,d tokens: CE loss recovered %.4f (CE %.4f clean, %.4f with the SAE, %.4f zero-ablated),"
                        + " explained variance %.4f, L0 %.2f%n",
                s.config().describe(),
                model,
                report.tokens(),
                report.get("ce_loss_score"),
                report.get("ce_loss_without_sae"),
                report.get("ce_loss_with_sae"),
                report.get("ce_loss_with_ablation"),
                report.get("explained_variance"),
                report.get("l0"));
        return 0;
    }
}
