package dev.loupe.engine.zoo;

import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.TrainingRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The {@code MODEL_CARD.md} written beside a trained model: task, config, command, steps, final metrics. */
public final class ModelCard {
    public static final String FILE = "MODEL_CARD.md";
    private static final List<String> NOT_METRICS = List.of("step", "lr", "loss", "grad_norm");

    private ModelCard() {}

    public static String render(ZooRecipe recipe, TrainingRun run, String command, double seconds) {
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
                        + "%.0f s on %d processors.%n%n",
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
                Runtime.getRuntime().availableProcessors()));
        sb.append("## Final metrics\n\n| metric | value |\n|---|---|\n");
        sb.append(String.format(Locale.ROOT, "| train loss (last step) | %.4g |%n", run.last("loss")));
        for (String m : metricNames(run)) sb.append(String.format(Locale.ROOT, "| %s | %.4g |%n", m, run.last(m)));
        sb.append("\nThe loss curve and evaluations are in `history.csv`.\n");
        return sb.toString();
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
}
