package dev.loupe.engine.zoo;

import dev.loupe.engine.generate.Generator;
import dev.loupe.engine.generate.SamplingConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.TrainingRun;
import dev.loupe.engine.train.tasks.TextTask;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The {@code MODEL_CARD.md} written beside a trained model: task, config, command, steps, final metrics. */
public final class ModelCard {
    public static final String FILE = "MODEL_CARD.md";
    private static final List<String> NOT_METRICS = List.of("step", "lr", "loss", "grad_norm");

    private ModelCard() {}

    public static String render(ZooRecipe recipe, TrainingRun run, String command, double seconds) {
        return render(recipe, run, command, seconds, 0);
    }

    /**
     * The card of a run that this process resumed after step {@code resumedAfter} (0: trained from
     * the start): {@code seconds} then timed only the steps after it, and the card says so.
     */
    public static String render(ZooRecipe recipe, TrainingRun run, String command, double seconds, int resumedAfter) {
        TrainingConfig t = run.config();
        StringBuilder sb = new StringBuilder();
        sb.append("# ")
                .append(recipe.model())
                .append("\n\n")
                .append(recipe.description())
                .append(".\n\n");
        sb.append("## Task\n\n`")
                .append(recipe.task())
                .append("`: ")
                .append(recipe.trainingTask())
                .append("\n\n");
        sb.append("## Model config\n\n```\n").append(run.model().config()).append("\n```\n\n");
        sb.append(String.format(
                Locale.ROOT, "Parameters: %,d%n%n", run.model().config().parameterCount()));
        sb.append("## Training\n\n```\n").append(command).append("\n```\n\n");
        sb.append(String.format(
                Locale.ROOT,
                "%d steps of AdamW (lr %s, betas %s/%s, weight decay %s, %s schedule, "
                        + "%d warm-up steps, gradient clip %s), batch %d, seed %d, initial weights std %s; "
                        + "%.0f s on %d processors%s.%n%n",
                t.steps(),
                t.lr(),
                t.beta1(),
                t.beta2(),
                t.weightDecay(),
                t.schedule().name().toLowerCase(Locale.ROOT),
                t.warmupSteps(),
                t.gradClip() == 0 ? "off" : t.gradClip(),
                t.batchSize(),
                t.seed(),
                t.initRange() > 0 ? t.initRange() : "0.8/sqrt(d_model)",
                seconds,
                Runtime.getRuntime().availableProcessors(),
                resumedFor(resumedAfter, t.steps())));
        sb.append("## Final metrics\n\n| metric | value |\n|---|---|\n");
        sb.append(String.format(Locale.ROOT, "| train loss (last step) | %.4g |%n", run.last("loss")));
        for (String m : metricNames(run)) sb.append(String.format(Locale.ROOT, "| %s | %.4g |%n", m, run.last(m)));
        if (recipe.trainingTask() instanceof TextTask text) textSections(sb, text, run);
        sb.append("\nThe loss curve and evaluations are in `history.csv`.\n");
        return sb.toString();
    }

    /** Prompts of the samples on a text model's card (those the tokenizer can encode; the empty one always). */
    static final List<String> SAMPLE_PROMPTS = List.of("ROMEO:\n", "First Citizen:\n", "");

    /** A text model's card: the held-out loss as training went, and greedy and sampled continuations. */
    private static void textSections(StringBuilder sb, TextTask text, TrainingRun run) {
        sb.append("\n## Validation loss\n\n")
                .append("The mean next-token loss over all ")
                .append(String.format(Locale.ROOT, "%,d", text.validationTokens().length))
                .append(" held-out tokens (the last 10% of the corpus), read in windows of ")
                .append(text.seqLen())
                .append(" predictions from the BOS; train loss is the mean over the steps since the previous row.\n\n")
                .append("| step | lr | train loss | validation loss |\n|---|---|---|---|\n");
        double sum = 0;
        int n = 0;
        for (Map<String, Double> row : run.rows()) {
            sum += row.get("loss");
            n++;
            Double val = row.get("val_loss");
            if (val == null || val.isNaN()) continue;
            sb.append(String.format(
                    Locale.ROOT,
                    "| %d | %.2e | %.4f | %.4f |%n",
                    row.get("step").intValue(),
                    row.get("lr"),
                    sum / n,
                    val));
            sum = 0;
            n = 0;
        }
        sb.append("\n## Samples\n\nEach prompt (after the BOS) continued for the rest of the context: greedy, then")
                .append(" sampled at temperature 0.8 (seed 0).\n");
        Tokenizer tok = text.tokenizer();
        for (String prompt : SAMPLE_PROMPTS) {
            int[] ids;
            try {
                ids = tok.toTokens(prompt);
            } catch (dev.loupe.engine.LoupeException notInTheVocabulary) {
                continue;
            }
            int room = run.model().config().nCtx() - ids.length;
            for (SamplingConfig s : List.of(
                    SamplingConfig.greedy(room),
                    SamplingConfig.builder()
                            .temperature(0.8)
                            .seed(0)
                            .maxNewTokens(room)
                            .build())) {
                int[] out = Generator.generate(run.model(), Tokens.of(ids), s).sequence(0);
                sb.append("\n")
                        .append(s.isGreedy() ? "Greedy" : "Sampled")
                        .append(
                                prompt.isEmpty()
                                        ? ", from the BOS alone"
                                        : ", prompt `" + prompt.replace("\n", "\\n") + "`")
                        .append(":\n\n```\n")
                        .append(tok.decode(out, true))
                        .append("\n```\n");
            }
        }
    }

    /** One line of the final metrics, for the terminal. */
    public static String metricsLine(TrainingRun run) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "final: loss=%.4f", run.last("loss")));
        for (String m : metricNames(run)) sb.append(String.format(Locale.ROOT, " %s=%.4f", m, run.last(m)));
        return sb.toString();
    }

    private static List<String> metricNames(TrainingRun run) {
        List<String> names = new ArrayList<>();
        run.rows().forEach(r -> r.keySet().forEach(k -> {
            if (!NOT_METRICS.contains(k) && !names.contains(k)) names.add(k);
        }));
        return names;
    }

    /** What the time covers when the run was resumed: only the steps after the checkpoint it resumed from. */
    private static String resumedFor(int resumedAfter, int steps) {
        if (resumedAfter <= 0) return "";
        if (resumedAfter >= steps) return " (every step was done before: this run resumed from the last checkpoint)";
        return String.format(
                Locale.ROOT,
                " for steps %d-%d (resumed from the step-%d checkpoint; the earlier steps' time is not recorded)",
                resumedAfter + 1,
                steps,
                resumedAfter);
    }
}
