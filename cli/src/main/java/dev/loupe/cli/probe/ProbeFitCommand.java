package dev.loupe.cli.probe;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.probes.ClassWeight;
import dev.loupe.probes.LinearProbe;
import dev.loupe.probes.LogisticProbe;
import dev.loupe.probes.MassMeanProbe;
import dev.loupe.probes.RidgeProbe;
import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.data.Labels;
import dev.loupe.probes.data.RowSource;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe probe fit --x X.npy --y y.npy --kind logistic --out DIR}: see docs/probes.md. */
@Command(
        name = "fit",
        mixinStandardHelpOptions = true,
        description = {
            "Fits a linear probe on activations X.npy [n, d] and labels y.npy [n]; prints the train accuracy.",
            "Writes the probe folder --out (probe.json + probe.safetensors)."
        })
public final class ProbeFitCommand implements Callable<Integer> {
    @Option(names = "--x", required = true, paramLabel = "X.npy", description = "activations, float [n, d]")
    Path x;

    @Option(
            names = "--y",
            required = true,
            paramLabel = "y.npy",
            description = "integer labels [n] (ridge: any numbers, [n] or [n, t])")
    Path y;

    @Option(
            names = "--kind",
            required = true,
            paramLabel = "KIND",
            completionCandidates = Kinds.class,
            description = "logistic, ridge or mass-mean")
    String kind;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the probe folder to write")
    Path out;

    @Option(
            names = "--c",
            paramLabel = "C",
            defaultValue = "1.0",
            description = "logistic: inverse regularisation strength (scikit-learn's C); default: ${DEFAULT-VALUE}")
    double c;

    @Option(
            names = "--alpha",
            paramLabel = "A",
            defaultValue = "1.0",
            description = "ridge: L2 strength (scikit-learn's alpha); default: ${DEFAULT-VALUE}")
    double alpha;

    @Option(
            names = "--tol",
            paramLabel = "T",
            defaultValue = "1e-6",
            description = "logistic: gradient tolerance (scikit-learn's tol, whose default is 1e-4); default:"
                    + " ${DEFAULT-VALUE}")
    double tol;

    @Option(
            names = "--max-iter",
            paramLabel = "N",
            defaultValue = "100",
            description = "logistic: L-BFGS iterations at most; default: ${DEFAULT-VALUE}")
    int maxIter;

    @Option(names = "--standardize", description = "logistic: standardise features first (StandardScaler)")
    boolean standardize;

    @Option(names = "--balanced", description = "logistic: class_weight=\"balanced\"")
    boolean balanced;

    @Option(names = "--lda", description = "mass-mean: the covariance-corrected (LDA) direction")
    boolean lda;

    @Option(names = "--hook", paramLabel = "NAME", description = "the hook point the activations came from (saved)")
    String hook;

    static final class Kinds extends java.util.ArrayList<String> {
        Kinds() {
            super(java.util.List.of("logistic", "ridge", "mass-mean"));
        }
    }

    @Override
    public Integer call() {
        INDArray xs = NpyReader.read(x);
        if (xs.rank() != 2 || !xs.dataType().isFPType())
            throw new LoupeException(x + ": expected float activations [n, d], got "
                    + xs.dataType().name().toLowerCase(Locale.ROOT) + " " + Arrays.toString(xs.shape()));
        RowSource rows = RowSource.of(xs, x.toString());
        LinearProbe probe;
        switch (kind) {
            case "logistic" -> {
                int[] labels = Labels.fromNpy(y, rows.rows());
                probe = LogisticProbe.builder()
                        .c(c)
                        .tol(tol)
                        .maxIter(maxIter)
                        .standardize(standardize)
                        .classWeight(balanced ? ClassWeight.balanced() : ClassWeight.none())
                        .hook(hook)
                        .build()
                        .fit(LabeledRows.of(rows, labels));
                System.out.printf(
                        Locale.ROOT, "train accuracy %.4f%n", probe.metrics().get("train_accuracy"));
                LogisticProbe lp = (LogisticProbe) probe;
                System.out.printf(
                        Locale.ROOT,
                        "train log-loss %.6f, %d iterations%s%n",
                        probe.metrics().get("train_log_loss"),
                        lp.nIter(),
                        lp.converged() ? "" : " (not converged: raise --max-iter)");
            }
            case "mass-mean" -> {
                int[] labels = Labels.fromNpy(y, rows.rows());
                probe = MassMeanProbe.create(lda, lda ? 1e-3 : 0, hook).fit(LabeledRows.of(rows, labels));
                double acc = probe.score(xs, labels);
                probe.putMetric("train_accuracy", acc);
                System.out.printf(Locale.ROOT, "train accuracy %.4f%n", acc);
            }
            case "ridge" -> {
                INDArray targets = NpyReader.read(y);
                if (targets.rank() > 2 || targets.size(0) != rows.rows())
                    throw new LoupeException(y + " has shape " + Arrays.toString(targets.shape()) + "; expected ["
                            + rows.rows() + "] or [" + rows.rows() + ", t], one target per row of " + x);
                RidgeProbe r = RidgeProbe.create(alpha, hook).fit(xs, targets);
                double r2 = r.score(xs, targets);
                r.putMetric("train_r2", r2);
                if (targets.dataType().isIntType() && targets.rank() == 1) {
                    double acc = RidgeProbe.roundedAccuracy(
                            r.predict(xs), targets.castTo(DataType.INT).toIntVector());
                    r.putMetric("train_accuracy", acc);
                    System.out.printf(
                            Locale.ROOT, "train accuracy %.4f (predictions rounded to the nearest label)%n", acc);
                }
                System.out.printf(Locale.ROOT, "train R^2 %.4f%n", r2);
                probe = r;
            }
            default -> throw new LoupeException(
                    "probe fit: --kind must be logistic, ridge or mass-mean, got \"" + kind + "\"");
        }
        probe.save(out);
        System.out.println("wrote " + out + " (probe.json, probe.safetensors)");
        return 0;
    }
}
