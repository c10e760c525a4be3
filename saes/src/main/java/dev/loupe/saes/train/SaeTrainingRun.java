package dev.loupe.saes.train;

import dev.loupe.saes.Sae;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.Table;

/**
 * What a training run produced: the trained SAEs (inference form, SAELens semantics, scaling folded in),
 * each SAE's latent densities over the last sampling window, and the history (one row per step).
 *
 * @param saes       the trained SAEs, in the order they were added
 * @param densities  per SAE, the fraction of rows on which each latent fired in the last sampling window
 * @param history    per step: step, lr, wait_ms (time waiting for the activations), then per SAE
 *                   {@code <name>/loss}, {@code <name>/mse_loss}, ..., {@code <name>/l0},
 *                   {@code <name>/explained_variance}, {@code <name>/dead_fraction}, {@code <name>/dense_fraction}
 * @param waitSeconds total time the steps waited for activations
 * @param stepSeconds total time of the steps (waiting included)
 */
public record SaeTrainingRun(
        List<Sae> saes,
        List<double[]> densities,
        List<Map<String, Double>> history,
        double waitSeconds,
        double stepSeconds) {

    /** The first (or only) SAE. */
    public Sae sae() {
        return saes.get(0);
    }

    /** The history as a Tablesaw table (columns in first-seen order). */
    public Table historyTable() {
        java.util.Set<String> columns = new java.util.LinkedHashSet<>();
        for (Map<String, Double> row : history) columns.addAll(row.keySet());
        Table t = Table.create("sae training history");
        for (String c : columns) {
            DoubleColumn col = DoubleColumn.create(c);
            for (Map<String, Double> row : history) col.append(row.getOrDefault(c, Double.NaN));
            t.addColumns(col);
        }
        return t;
    }

    /** The last history row. */
    public Map<String, Double> last() {
        return history.isEmpty() ? Map.of() : new LinkedHashMap<>(history.get(history.size() - 1));
    }

    /** Writes the history as CSV. */
    public void saveHistory(Path file) {
        historyTable().write().csv(file.toFile());
    }
}
