package dev.loupe.saes.eval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * One SAE's evaluation, with SAELens's metric names: {@code l0}, {@code l1}, {@code mse},
 * {@code explained_variance}, {@code explained_variance_legacy}, {@code fvu}, {@code cossim},
 * {@code l2_norm_in}, {@code l2_norm_out}, {@code l2_ratio} (shrinkage), {@code relative_reconstruction_bias},
 * {@code dead_fraction}, {@code dense_fraction}, and with a model {@code ce_loss_without_sae},
 * {@code ce_loss_with_sae}, {@code ce_loss_with_ablation}, {@code ce_loss_score} (CE loss recovered),
 * {@code kl_div_with_sae}, {@code kl_div_with_ablation}, {@code kl_div_score}.
 *
 * @param name     what was evaluated (the SAE's hook and architecture)
 * @param metrics  metric name → value, in the order above
 * @param density  per latent, the fraction of evaluated tokens on which it fired
 * @param tokens   tokens evaluated (ignored positions left out)
 */
public record SaeEvalReport(String name, Map<String, Double> metrics, double[] density, long tokens) {

    public double get(String metric) {
        Double v = metrics.get(metric);
        if (v == null) throw new IllegalArgumentException("no metric '" + metric + "' (have " + metrics.keySet() + ")");
        return v;
    }

    /** A table of metric and value. */
    public Table table() {
        StringColumn m = StringColumn.create("metric");
        DoubleColumn v = DoubleColumn.create("value");
        metrics.forEach((k, x) -> {
            m.append(k);
            v.append(x);
        });
        return Table.create(name, m, v);
    }

    /** Several SAEs side by side: a metric column, then one column per SAE. */
    public static Table compare(List<SaeEvalReport> reports) {
        StringColumn m = StringColumn.create("metric");
        Map<String, DoubleColumn> cols = new LinkedHashMap<>();
        for (SaeEvalReport r : reports) cols.put(r.name(), DoubleColumn.create(r.name()));
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        for (SaeEvalReport r : reports) names.addAll(r.metrics().keySet());
        for (String k : names) {
            m.append(k);
            for (SaeEvalReport r : reports)
                cols.get(r.name()).append(r.metrics().getOrDefault(k, Double.NaN));
        }
        Table t = Table.create("sae evals", m);
        cols.values().forEach(t::addColumns);
        return t;
    }

    /** Feature densities as log10 (SAELens's {@code log_feature_sparsity}), with 1e-10 added. */
    public double[] logDensity() {
        double[] out = new double[density.length];
        for (int i = 0; i < out.length; i++) out[i] = Math.log10(density[i] + 1e-10);
        return out;
    }
}
