package dev.loupe.cli.bench;

import dev.loupe.bench.ProbeBenchmark;
import dev.loupe.engine.LoupeException;
import dev.loupe.probes.Precondition;
import dev.loupe.store.StoreDType;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench probe}: see {@link ProbeBenchmark}. */
@Command(
        name = "probe",
        mixinStandardHelpOptions = true,
        description = {
            "Logistic probe fit time; with --vs-sklearn against scikit-learn's LogisticRegression (lbfgs) on the same",
            "data, same final log-loss within 1e-4, last line ratio_vs_sklearn=... With --sweep: a layer sweep"
                    + " streaming a synthetic store (--rows x --layers x --d), time and peak memory."
        })
public final class BenchProbeCommand implements Callable<Integer> {
    @Option(names = "--n", paramLabel = "N", defaultValue = "100000", description = "rows; default: ${DEFAULT-VALUE}")
    int n;

    @Option(names = "--d", paramLabel = "D", defaultValue = "768", description = "features; default: ${DEFAULT-VALUE}")
    int d;

    @Option(
            names = "--classes",
            paramLabel = "K",
            defaultValue = "2",
            description = "classes; default: ${DEFAULT-VALUE}")
    int classes;

    @Option(names = "--c", paramLabel = "C", defaultValue = "1.0", description = "default: ${DEFAULT-VALUE}")
    double c;

    @Option(names = "--tol", paramLabel = "T", defaultValue = "1e-4", description = "default: ${DEFAULT-VALUE}")
    double tol;

    @Option(names = "--max-iter", paramLabel = "N", defaultValue = "100", description = "default: ${DEFAULT-VALUE}")
    int maxIter;

    @Option(
            names = "--repeats",
            paramLabel = "N",
            defaultValue = "3",
            description = "timed fits of each (best counts); default: ${DEFAULT-VALUE}")
    int repeats;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "default: ${DEFAULT-VALUE}")
    long seed;

    @Option(
            names = "--precondition",
            paramLabel = "P",
            defaultValue = "auto",
            description = "auto, whiten, diagonal or none; default: ${DEFAULT-VALUE}")
    String precondition;

    @Option(names = "--vs-sklearn", description = "also fit scikit-learn's LogisticRegression on the same data")
    boolean vsSklearn;

    @Option(
            names = "--python",
            paramLabel = "PATH",
            description = "the Python with scikit-learn (default: $LOUPE_PYTHON, else /usr/bin/python3)")
    String python;

    @Option(names = "--sweep", description = "the store sweep instead of the fit comparison")
    boolean sweep;

    @Option(
            names = "--rows",
            paramLabel = "N",
            defaultValue = "1000000",
            description = "sweep: rows in the store; default: ${DEFAULT-VALUE}")
    long rows;

    @Option(
            names = "--layers",
            paramLabel = "L",
            defaultValue = "12",
            description = "sweep: hooks in the store; default: ${DEFAULT-VALUE}")
    int layers;

    @Option(
            names = "--store",
            paramLabel = "DIR",
            description = "sweep: the store (written there unless it exists; default: a temporary folder)")
    Path store;

    @Option(
            names = "--dtype",
            paramLabel = "T",
            defaultValue = "bf16",
            description = "sweep: storage dtype f32, f16 or bf16; default: ${DEFAULT-VALUE}")
    String dtype;

    @Option(names = "--keep", description = "sweep: keep the temporary store")
    boolean keep;

    @Override
    public Integer call() {
        Precondition p;
        try {
            p = Precondition.valueOf(precondition.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LoupeException(
                    "bench probe: --precondition must be auto, whiten, diagonal or none, got \"" + precondition + "\"");
        }
        if (sweep) {
            ProbeBenchmark.sweep(new ProbeBenchmark.SweepSettings(
                    rows, layers, d, store, StoreDType.parse(dtype), maxIter, seed, keep));
            return 0;
        }
        String py = python != null ? python : System.getenv().getOrDefault("LOUPE_PYTHON", "/usr/bin/python3");
        ProbeBenchmark.run(
                new ProbeBenchmark.Settings(n, d, classes, c, tol, maxIter, repeats, seed, vsSklearn, py, p));
        return 0;
    }
}
