package dev.loupe.cli;

import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.analysis.HeadScores;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.engine.zoo.ZooRecipe;
import dev.loupe.viz.Figure;
import dev.loupe.viz.PlotlyJs;
import dev.loupe.viz.TableHtml;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tech.tablesaw.api.Table;

/**
 * {@code ./loupe demo}: finds the induction circuit of the embedded {@code attn-only-2l}. Runs it
 * with a cache on repeated random tokens, prints every head's previous-token, duplicate-token and
 * induction scores, and writes an HTML report: the attention patterns of the top induction and
 * previous-token heads, and the loss per position, which drops on the repeated half. With
 * {@code --model shakespeare-char}: the character model writes, and its logit lens ({@link TextDemo}).
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Finds the induction heads of the embedded attn-only-2l.",
            "Prints every head's previous-token, duplicate-token and induction scores on repeated random tokens,",
            "and writes an HTML report (attention patterns, loss per position) to --out.",
            "--model shakespeare-char: the character model writes (greedy, sampled) and a logit-lens table shows",
            "its next-character guess forming block by block on a held-out passage; report in --out."
        })
final class DemoCommand implements Callable<Integer> {
    @Option(
            names = "--model",
            paramLabel = "NAME",
            defaultValue = "attn-only-2l",
            completionCandidates = Models.class,
            description = "attn-only-2l or shakespeare-char; default: ${DEFAULT-VALUE}")
    String model;

    @Option(
            names = "--prompt",
            paramLabel = "TEXT",
            defaultValue = "ROMEO:\n",
            description = "shakespeare-char: the text it continues; default: ROMEO: and a newline")
    String prompt;

    static final class Models extends java.util.ArrayList<String> {
        Models() {
            super(List.of("attn-only-2l", ZooRecipe.SHAKESPEARE_CHAR));
        }
    }

    @Option(
            names = "--out",
            paramLabel = "DIR",
            defaultValue = "loupe-demo",
            description = "report folder; default: ${DEFAULT-VALUE}")
    Path out;

    @Option(
            names = "--seq",
            paramLabel = "N",
            defaultValue = "31",
            description = "random tokens before the repeat; default: ${DEFAULT-VALUE}")
    int seq;

    @Option(
            names = "--batch",
            paramLabel = "B",
            defaultValue = "16",
            description = "sequences; default: ${DEFAULT-VALUE}")
    int batch;

    @Option(
            names = "--seed",
            paramLabel = "S",
            defaultValue = "0",
            description = "seed of the random tokens (shakespeare-char: of the sample); default: ${DEFAULT-VALUE}")
    int seed;

    @Override
    public Integer call() {
        if (model.equals(ZooRecipe.SHAKESPEARE_CHAR)) {
            TextDemo.run(model, prompt, seed, out);
            return 0;
        }
        if (!model.equals("attn-only-2l"))
            throw new LoupeException("demo: --model must be attn-only-2l or shakespeare-char, got '" + model + "'");
        HookedTransformer attnOnly = Zoo.load("attn-only-2l");
        System.out.println(
                "attn-only-2l: " + attnOnly + ", trained by Loupe on repeated random tokens (see its model card)");

        Tokens tokens =
                HeadScores.repeatedRandomTokens(batch, seq, attnOnly.config().dVocab(), InductionTask.BOS, seed);
        double[] loss;
        Table scores;
        INDArray patterns0, patterns1; // [head, q_pos, k_pos] of the first sequence, per layer
        try (ForwardResult r = attnOnly.runWithCache(tokens, HeadScores.PATTERNS);
                Graph g = Graph.inference()) {
            loss = Losses.perPosition(g.constant(r.logits()), tokens)
                    .data()
                    .mean(0)
                    .toDoubleVector(); // [2 * seq]
            scores = HeadScores.fromCache(r.cache(), attnOnly.config().nLayers(), seq);
            patterns0 = r.cache().get("pattern", 0).get(point(0)).dup();
            patterns1 = r.cache().get("pattern", 1).get(point(0)).dup();
        }
        System.out.printf(
                Locale.ROOT,
                "%nHead scores on %d sequences [BOS, %d random tokens, the same %d again]:%n",
                batch,
                seq,
                seq);
        System.out.println(rounded(scores).sortDescendingOn("induction").printAll());

        double firstHalf = mean(loss, 0, seq), repeated = mean(loss, seq, 2 * seq);
        System.out.printf(
                Locale.ROOT,
                "Mean loss predicting the random first half: %.3f; the repeated half: %.3f (uniform guess: %.3f)%n",
                firstHalf,
                repeated,
                Math.log(attnOnly.config().dVocab() - 1));

        int inductionRow = HeadScores.best(scores, "induction", 1, 2),
                previousRow = HeadScores.best(scores, "previous_token", 0, 1);
        int indLayer = scores.intColumn("layer").get(inductionRow),
                indHead = scores.intColumn("head").get(inductionRow);
        int prevHead = scores.intColumn("head").get(previousRow);
        System.out.printf(
                Locale.ROOT,
                "Top induction head: L%dH%d (score %.3f); top previous-token head: L0H%d (score %.3f)%n",
                indLayer,
                indHead,
                scores.doubleColumn("induction").get(inductionRow),
                prevHead,
                scores.doubleColumn("previous_token").get(previousRow));

        List<String> labels = new ArrayList<>();
        int[] ids = tokens.ids()[0];
        for (int p = 0; p < ids.length; p++) labels.add(p == 0 ? "BOS" : ids[p] + "@" + p);
        INDArray indPattern = (indLayer == 0 ? patterns0 : patterns1).get(point(indHead));
        String html = report(
                attnOnly,
                scores,
                labels,
                seq,
                heatmap(
                        indPattern,
                        labels,
                        String.format(
                                Locale.ROOT, "Induction head L%dH%d: attention of sequence 0", indLayer, indHead)),
                heatmap(
                        patterns0.get(point(prevHead)),
                        labels,
                        "Previous-token head L0H" + prevHead + ": attention of sequence 0"),
                lossFigure(loss, seq, firstHalf, repeated));
        writeReport(out, html);
        System.out.println("\nwrote the report to " + out.resolve("index.html").toAbsolutePath());
        return 0;
    }

    private static Table rounded(Table scores) {
        Table t = scores.copy();
        for (String c : List.of("previous_token", "duplicate_token", "induction"))
            t.replaceColumn(
                    c, t.doubleColumn(c).map(v -> Math.round(v * 1000) / 1000.0).setName(c));
        return t;
    }

    private static double mean(double[] v, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += v[i];
        return s / (to - from);
    }

    private static Figure heatmap(INDArray pattern, List<String> labels, String title) {
        return Figure.heatmap(pattern.toDoubleMatrix())
                .sequential(0, 1) // attention weights: white at 0, as CircuitsVis
                .title(title)
                .xLabels(labels)
                .yLabels(labels)
                .xTitle("key position")
                .yTitle("query position")
                .height(640);
    }

    private static Figure lossFigure(double[] loss, int seq, double firstHalf, double repeated) {
        double[] x = Figure.range(loss.length);
        return Figure.line("loss", x, loss)
                .title(String.format(
                        Locale.ROOT,
                        "Loss per position (mean over the batch): %.2f on the first half, %.2f on the repeat",
                        firstHalf,
                        repeated))
                .xTitle("position predicting the next token (repeat starts predicting at " + seq + ")")
                .yTitle("cross-entropy")
                .withLine("repeat starts", new double[] {seq - 0.5, seq - 0.5}, new double[] {0, Math.log(512) + 1})
                .height(420);
    }

    private static String report(
            HookedTransformer model,
            Table scores,
            List<String> labels,
            int seq,
            Figure induction,
            Figure previous,
            Figure loss) {
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Loupe demo: induction heads in attn-only-2l</title>\n"
                + "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
                + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>\n"
                + PlotlyJs.scriptTag() + "</head><body>\n"
                + "<h1>Induction heads in attn-only-2l</h1>\n"
                + "<p>" + TableHtml.escape(model.toString())
                + ", trained by Loupe on random tokens with a repeated segment. "
                + "Input: BOS, " + seq + " random tokens, the same " + seq + " again. A previous-token head in layer 0 "
                + "attends to the token before; an induction head in layer 1 attends to the token after the earlier "
                + "occurrence of the current token, and copies it.</p>\n"
                + "<h2>Head scores</h2>\n" + TableHtml.of(rounded(scores).sortDescendingOn("induction")) + "\n"
                + "<h2>Attention patterns</h2>\n" + induction.html() + previous.html()
                + "<h2>Loss per position</h2>\n" + loss.html()
                + "<p style=\"font-size:smaller\">Made by <code>./loupe demo</code>. Tokens: id@position.</p>\n"
                + "</body></html>\n";
    }

    static void writeReport(Path out, String html) {
        try {
            Files.createDirectories(out);
        } catch (java.io.IOException e) {
            throw new dev.loupe.engine.LoupeException(out + ": cannot create the report folder: " + e.getMessage(), e);
        }
        byte[] bytes = html.getBytes(StandardCharsets.UTF_8);
        AtomicFileWriter.write(out.resolve("index.html"), ch -> ch.write(ByteBuffer.wrap(bytes)));
    }
}
