package dev.loupe.cli.probe;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.probes.Probe;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe probe predict --probe DIR --x X.npy --out P.npy}. */
@Command(
        name = "predict",
        mixinStandardHelpOptions = true,
        description = {
            "Applies a probe folder to activations X.npy [n, d].",
            "Writes class probabilities float32 [n, classes] (columns in the probe's class order); a ridge probe's"
                    + " predictions [n]."
        })
public final class ProbePredictCommand implements Callable<Integer> {
    @Option(names = "--probe", required = true, paramLabel = "DIR", description = "a probe folder (probe fit --out)")
    Path probe;

    @Option(names = "--x", required = true, paramLabel = "X.npy", description = "activations, float [n, d]")
    Path x;

    @Option(names = "--out", required = true, paramLabel = "P.npy", description = "the .npy file to write")
    Path out;

    @Override
    public Integer call() {
        Probe p = Probe.load(probe);
        INDArray xs = NpyReader.read(x);
        if (xs.rank() != 2 || !xs.dataType().isFPType() || xs.size(1) != p.d())
            throw new LoupeException(x + ": expected float activations [n, " + p.d() + "] (the probe in " + probe
                    + " reads d = " + p.d() + "), got " + xs.dataType().name().toLowerCase(Locale.ROOT) + " "
                    + Arrays.toString(xs.shape()));
        INDArray result = p.classes() == null ? p.predict(xs) : p.predictProba(xs);
        NpyWriter.write(out, result);
        System.out.println("wrote " + out + " " + Arrays.toString(result.shape())
                + (p.classes() == null ? " predictions" : " probabilities of classes " + Arrays.toString(p.classes())));
        return 0;
    }
}
