package dev.loupe.engine.train;

import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.model.HookedTransformer;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.Table;

/**
 * A finished (or stopped) training run: the trained model and one history row per step (step, lr,
 * loss, grad_norm, plus the task's evaluation metrics on the steps where it was evaluated).
 */
public record TrainingRun(HookedTransformer model, String task, TrainingConfig config, List<Map<String, Double>> rows) {

    /** The history as a table; metrics are NaN on steps without an evaluation. */
    public Table history() {
        Set<String> columns = new LinkedHashSet<>();
        rows.forEach(r -> columns.addAll(r.keySet()));
        Table t = Table.create("training history");
        for (String c : columns) {
            double[] values = rows.stream()
                    .mapToDouble(r -> r.getOrDefault(c, Double.NaN))
                    .toArray();
            t.addColumns(DoubleColumn.create(c, values));
        }
        return t;
    }

    /** The last value of a column that has one (the final metrics), or NaN. */
    public double last(String column) {
        for (int i = rows.size() - 1; i >= 0; i--) {
            Double v = rows.get(i).get(column);
            if (v != null && !v.isNaN()) return v;
        }
        return Double.NaN;
    }

    /** Writes the history as CSV (the loss curve as data). */
    public void saveHistory(Path file) {
        java.io.StringWriter csv = new java.io.StringWriter();
        history().write().csv(csv);
        byte[] bytes = csv.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        AtomicFileWriter.write(file, ch -> ch.write(java.nio.ByteBuffer.wrap(bytes)));
    }
}
