package dev.loupe.cli;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.hooks.ActivationCache;
import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.zoo.Zoo;
import dev.loupe.viz.Figure;
import dev.loupe.viz.PlotlyJs;
import dev.loupe.viz.TableHtml;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * {@code ./loupe demo --model shakespeare-char}: the embedded character model writes (greedy and
 * sampled), and a logit-lens table shows how its next-character guess forms block by block on a
 * held-out passage; an HTML report holds the same.
 */
final class TextDemo {
    /** From The Taming of the Shrew, in the held-out last 10% of tinyshakespeare. */
    static final String PASSAGE =
            "BAPTISTA:\nI have a daughter, sir, called Katharina.\n\nGREMIO:\nYou are too blunt: go to it orderly.\n";

    private TextDemo() {}

    static void run(String name, String prompt, int seed, Path out) {
        HookedTransformer model = Zoo.load(name);
        Tokenizer tok = Zoo.tokenizer(name);
        System.out.println(
                name + ": " + model + ", trained by Loupe to predict the next character (see its model card)");
        int[] promptIds;
        try {
            promptIds = tok.toTokens(prompt);
        } catch (LoupeException e) {
            throw new LoupeException("demo: --prompt: " + e.getMessage(), e);
        }
        int room = model.config().nCtx() - promptIds.length;
        if (room < 1)
            throw new LoupeException("demo: --prompt is " + (promptIds.length - 1) + " characters; the model reads "
                    + (model.config().nCtx() - 1) + " after its BOS");
        String greedy = prompt
                + tok.decode(Generator.generate(model, Tokens.of(promptIds), SamplingConfig.greedy(room))
                        .generated(0));
        String sampled = prompt
                + tok.decode(Generator.generate(
                                model,
                                Tokens.of(promptIds),
                                SamplingConfig.builder()
                                        .temperature(0.8)
                                        .seed(seed)
                                        .maxNewTokens(room)
                                        .build())
                        .generated(0));
        System.out.println("\nGreedy:\n" + greedy + "\n\nSampled at temperature 0.8 (seed " + seed + "):\n" + sampled);

        int[] ids = tok.toTokens(PASSAGE);
        Lens lens = Lens.of(model, ids);
        Table stages = lens.summary();
        System.out.println("\nLogit lens on a held-out passage: the residual stream read after each block"
                + " (final LayerNorm and unembedding applied to it)\n" + stages.printAll());
        int from = PASSAGE.indexOf("a daughter"), to = PASSAGE.indexOf("Katharina.") + "Katharina.".length();
        Table guesses = lens.guesses(tok, PASSAGE, from, to);
        System.out.println("Its next-character guess at each position of \"" + PASSAGE.substring(from, to) + "\":\n"
                + guesses.printAll());

        Figure loss = Figure.line(lens.loss)
                .xLabels(lens.stages)
                .title("Logit lens: loss on the passage, read after each block")
                .xTitle("residual stream read")
                .yTitle("loss (nats per character)")
                .height(380);
        String html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Loupe demo: " + name
                + "</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
                + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
                + "pre{background:#f6f6f6;padding:1em}</style>\n"
                + PlotlyJs.scriptTag() + "</head><body>\n"
                + "<h1>" + TableHtml.escape(name) + ": a language model and its logit lens</h1>\n"
                + "<p>" + TableHtml.escape(model.toString())
                + ", trained by Loupe on Shakespeare to predict the next character.</p>\n"
                + "<h2>It writes</h2>\n<p>Greedy:</p><pre>" + TableHtml.escape(greedy)
                + "</pre>\n<p>Sampled at temperature 0.8 (seed " + seed + "):</p><pre>" + TableHtml.escape(sampled)
                + "</pre>\n<h2>Logit lens</h2>\n<p>On a passage the model never trained on:</p><pre>"
                + TableHtml.escape(PASSAGE) + "</pre>\n<p>The residual stream after each block, read through the final"
                + " LayerNorm and the unembedding: the loss falls block by block.</p>\n"
                + TableHtml.of(stages) + "\n" + loss.html()
                + "<p>The next-character guess read after each block, at each position (the character read):</p>\n"
                + TableHtml.of(guesses)
                + "\n<p style=\"font-size:smaller\">Made by <code>./loupe demo --model " + TableHtml.escape(name)
                + "</code>. ⏎ is a newline, ␣ a space.</p>\n</body></html>\n";
        DemoCommand.writeReport(out, html);
        System.out.println("\nwrote the report to " + out.resolve("index.html").toAbsolutePath());
    }

    static String shown(String s) {
        return s.replace("\n", "⏎").replace(" ", "␣");
    }

    /**
     * The logit lens of one sequence: the residual stream before each block and after the last (the
     * order of TransformerLens's {@code accumulated_resid}), each through the final LayerNorm with its
     * own scale (TransformerLens's {@code apply_ln}) and the unembedding.
     */
    record Lens(List<String> stages, List<INDArray> logits, double[] loss, double[] accuracy, int[] ids) {

        static Lens of(HookedTransformer model, int[] ids) {
            ModelConfig cfg = model.config();
            if (cfg.normalization() != ModelConfig.Normalization.LAYER_NORM || cfg.tiedEmbeddings())
                throw new LoupeException(
                        "demo: this logit lens reads LayerNorm models with an unembedding, got " + cfg);
            List<String> stages = new ArrayList<>();
            List<INDArray> logits = new ArrayList<>();
            try (ForwardResult r = model.runWithCache(
                    Tokens.of(ids),
                    ActivationFilter.matching(n -> n.endsWith("hook_resid_pre") || n.endsWith("hook_resid_post")))) {
                ActivationCache cache = r.cache();
                for (int l = 0; l < cfg.nLayers(); l++) {
                    stages.add(l == 0 ? "embed" : "after block " + (l - 1));
                    logits.add(read(
                            model, cache.get("blocks." + l + ".hook_resid_pre").get(point(0), all(), all())));
                }
                stages.add("after block " + (cfg.nLayers() - 1));
                logits.add(read(
                        model,
                        cache.get("blocks." + (cfg.nLayers() - 1) + ".hook_resid_post")
                                .get(point(0), all(), all())));
            }
            double[] loss = new double[stages.size()], accuracy = new double[stages.size()];
            for (int s = 0; s < stages.size(); s++) {
                INDArray logProbs = Transforms.log(Transforms.softmax(logits.get(s), true), false);
                for (int p = 0; p + 1 < ids.length; p++) {
                    loss[s] -= logProbs.getDouble(p, ids[p + 1]) / (ids.length - 1);
                    if (logProbs.getRow(p).argMax().getInt(0) == ids[p + 1]) accuracy[s] += 1.0 / (ids.length - 1);
                }
            }
            return new Lens(stages, logits, loss, accuracy, ids);
        }

        /** [pos, d_model] through ln_final (its own scale) and the unembedding: [pos, d_vocab]. */
        private static INDArray read(HookedTransformer model, INDArray resid) {
            INDArray x = resid.sub(resid.mean(true, 1));
            INDArray scale =
                    Transforms.sqrt(x.mul(x).mean(true, 1).addi(model.config().normEps()), false);
            return x.div(scale)
                    .mulRowVector(model.weights().get("ln_final.w"))
                    .addRowVector(model.weights().get("ln_final.b"))
                    .mmul(model.weights().get("unembed.W_U"))
                    .addRowVector(model.weights().get("unembed.b_U"));
        }

        Table summary() {
            return Table.create(
                    "logit lens on the passage",
                    StringColumn.create("read", stages),
                    DoubleColumn.create("loss (nats/char)", loss).map(v -> Math.round(v * 1000) / 1000.0),
                    DoubleColumn.create("top-1 accuracy", accuracy).map(v -> Math.round(v * 1000) / 1000.0));
        }

        /** One row per position of text[from, to): the character read, the next one, each stage's guess. */
        Table guesses(Tokenizer tok, String text, int from, int to) {
            Table t = Table.create("next-character guesses");
            StringColumn read = StringColumn.create("reads"), next = StringColumn.create("next");
            for (int p = from; p < to; p++) {
                read.append(shown(text.substring(p, p + 1)));
                next.append(shown(text.substring(p + 1, p + 2)));
            }
            t.addColumns(read, next);
            for (int s = 0; s < stages.size(); s++) {
                StringColumn c = StringColumn.create(stages.get(s));
                // ids[0] is the BOS: text character p is read at position p + 1
                for (int p = from; p < to; p++)
                    c.append(shown(
                            tok.tokenString(logits.get(s).getRow(p + 1).argMax().getInt(0))));
                t.addColumns(c);
            }
            return t;
        }
    }
}
