package dev.loupe.cli.sae;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Normalization;
import dev.loupe.saes.train.SaeSpec;
import dev.loupe.saes.train.SaeTrainer;
import dev.loupe.saes.train.SaeTrainingConfig;
import dev.loupe.saes.train.SaeTrainingRun;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe sae train}: trains an SAE from a store's hook or an .npy, into an SAELens folder. */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Trains a sparse autoencoder (SAELens's architectures and training) into an SAELens folder.",
            "From a store's hook (streamed through its shuffled stream) or from an .npy [rows, d] of activations.",
            "DIR receives cfg.json, sae_weights.safetensors, sparsity.safetensors, history.csv and checkpoints/;",
            "the same command again resumes from the newest checkpoint."
        })
public final class SaeTrainCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--store", paramLabel = "DIR", description = "an activations store (./loupe harvest)")
        Path store;

        @Option(names = "--x", paramLabel = "X.npy", description = "activations [rows, d_in] (float32/float16/float64)")
        Path x;
    }

    @Option(
            names = "--hook",
            paramLabel = "H",
            description =
                    "the store's hook (required with --store); with --x, the" + " hook_name written into cfg.json")
    String hook;

    @Option(
            names = "--arch",
            required = true,
            paramLabel = "ARCH",
            description = "relu (standard), topk, batchtopk, jumprelu or gated")
    String arch;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "the SAE folder (resumed if it holds checkpoints)")
    Path out;

    @Option(
            names = "--k",
            paramLabel = "K",
            defaultValue = "32",
            description = "topk/batchtopk: latents per row; default: ${DEFAULT-VALUE}")
    int k;

    @Option(names = "--d-sae", paramLabel = "N", description = "latents (default: 8 × d_in)")
    Integer dSae;

    @Option(
            names = "--steps",
            paramLabel = "S",
            defaultValue = "1000",
            description = "optimizer steps; default: ${DEFAULT-VALUE}")
    int steps;

    @Option(
            names = "--batch",
            paramLabel = "B",
            defaultValue = "4096",
            description = "rows per step; default: ${DEFAULT-VALUE}")
    int batch;

    @Option(
            names = "--lr",
            paramLabel = "LR",
            defaultValue = "3e-4",
            description = "Adam's learning rate; default: ${DEFAULT-VALUE}")
    double lr;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "default: ${DEFAULT-VALUE}")
    long seed;

    @Option(
            names = "--l1",
            paramLabel = "X",
            defaultValue = "5",
            description = "relu/gated: L1 coefficient; default: ${DEFAULT-VALUE}")
    double l1;

    @Option(
            names = "--l0",
            paramLabel = "X",
            defaultValue = "1",
            description = "jumprelu: L0 coefficient; default: ${DEFAULT-VALUE}")
    double l0;

    @Option(
            names = "--coefficient-warmup",
            paramLabel = "N",
            defaultValue = "0",
            description = "steps over which the L1/L0 coefficient rises from 0; default: ${DEFAULT-VALUE}")
    int coefficientWarmup;

    @Option(
            names = "--lr-warmup",
            paramLabel = "N",
            defaultValue = "0",
            description = "linear learning-rate warm-up steps; default: ${DEFAULT-VALUE}")
    int lrWarmup;

    @Option(
            names = "--lr-decay",
            paramLabel = "N",
            defaultValue = "0",
            description = "final steps of linear decay to 0; default: ${DEFAULT-VALUE}")
    int lrDecay;

    @Option(
            names = "--normalize",
            paramLabel = "MODE",
            defaultValue = "none",
            description = "none or expected_average_only_in; default: ${DEFAULT-VALUE}")
    String normalize;

    @Option(
            names = "--b-dec-init",
            paramLabel = "INIT",
            defaultValue = "geometric_median",
            description = "zeros, mean or geometric_median; default: ${DEFAULT-VALUE}")
    String bDecInit;

    @Option(
            names = "--dead-window",
            paramLabel = "N",
            defaultValue = "1000",
            description = "steps without firing after which a latent is dead; default: ${DEFAULT-VALUE}")
    int deadWindow;

    @Option(
            names = "--checkpoint-every",
            paramLabel = "N",
            defaultValue = "0",
            description = "steps between checkpoints (0: only at the end); default: ${DEFAULT-VALUE}")
    int checkpointEvery;

    @Option(
            names = "--buffer-rows",
            paramLabel = "N",
            defaultValue = "1000000",
            description = "the shuffled stream's mixing buffer; default: ${DEFAULT-VALUE}")
    long bufferRows;

    @Option(
            names = "--stop-after",
            paramLabel = "N",
            description = "stop after step N, leaving a checkpoint (the same command resumes)")
    Integer stopAfter;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Override
    public Integer call() {
        Architecture architecture = Architecture.parse(arch, "sae train: --arch");
        Normalization norm = Normalization.parse(normalize, "sae train: --normalize");
        SaeSpec.BDecInit init =
                switch (bDecInit) {
                    case "zeros" -> SaeSpec.BDecInit.ZEROS;
                    case "mean" -> SaeSpec.BDecInit.MEAN;
                    case "geometric_median" -> SaeSpec.BDecInit.GEOMETRIC_MEDIAN;
                    default -> throw new LoupeException(
                            "sae train: --b-dec-init must be zeros, mean or geometric_median, got '" + bDecInit + "'");
                };
        if (input.store != null && hook == null) throw new LoupeException("sae train: --store needs --hook H");
        if (dSae != null && dSae < 1) throw new LoupeException("sae train: --d-sae must be >= 1, got " + dSae);
        SaeTrainingConfig config = SaeTrainingConfig.of(steps, batch, lr, seed)
                .withSchedule(SaeTrainingConfig.Scheduler.CONSTANT, lrWarmup, lrDecay, 0)
                .withCheckpointEvery(checkpointEvery)
                .withDeadFeatureWindow(deadWindow)
                .withShuffleBufferRows(bufferRows);
        long t0 = System.nanoTime();
        SaeTrainingRun run;
        if (input.store != null) {
            try (ActivationStore store = ActivationStore.open(input.store)) {
                int dIn = store.d(hook);
                run = trainer(config, spec(architecture, hook, dIn, norm, init)).train(store);
            }
        } else {
            INDArray x = NpyReader.read(input.x);
            if (x.rank() != 2)
                throw new LoupeException(input.x + ": expected activations [rows, d_in], got rank " + x.rank());
            String h = hook != null ? hook : "x";
            run = trainer(config, spec(architecture, h, (int) x.size(1), norm, init))
                    .train(x, input.x.toString());
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> last = run.last();
        if (last.isEmpty() || last.get("step") < steps) {
            System.out.printf(
                    Locale.ROOT,
                    "stopped after step %d of %d; run the same command again to resume from %s%n",
                    last.isEmpty() ? 0 : last.get("step").intValue(),
                    steps,
                    out.resolve("checkpoints"));
            return 0;
        }
        System.out.printf(
                Locale.ROOT,
                "trained %s in %.1f s (%.1f ms/step, %.2f ms/step waiting for activations): mse_loss %.5g, L0 %.2f,"
                        + " explained variance %.4f, dead %.1f%%%n",
                run.sae().config().describe(),
                seconds,
                1000 * run.stepSeconds() / run.history().size(),
                1000 * run.waitSeconds() / run.history().size(),
                last.get("mse_loss"),
                last.get("l0"),
                last.get("explained_variance"),
                100 * last.get("dead_fraction"));
        System.out.println("wrote " + out + " (cfg.json, sae_weights.safetensors, sparsity.safetensors, history.csv)");
        return 0;
    }

    private SaeSpec spec(Architecture a, String h, int dIn, Normalization norm, SaeSpec.BDecInit init) {
        return SaeSpec.of(h, a, dSae != null ? dSae : 8 * dIn, k)
                .withL1(l1, coefficientWarmup)
                .withL0(l0, coefficientWarmup)
                .withNormalization(norm)
                .withBDecInit(init);
    }

    private SaeTrainer trainer(SaeTrainingConfig config, SaeSpec spec) {
        SaeTrainer t = new SaeTrainer(config).add(spec).outputTo(out).showProgress(!quiet);
        if (stopAfter != null) t.stopAfter(stopAfter);
        return t;
    }
}
