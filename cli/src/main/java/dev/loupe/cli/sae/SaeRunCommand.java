package dev.loupe.cli.sae;

import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.saes.Sae;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./loupe sae run}: features and reconstructions of activations, as SAELens's encode and decode. */
@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        description = {
            "Encodes activations with an SAE and decodes them back (SAELens's encode, then decode).",
            "Writes the features [n, d_sae] and the reconstructions [n, d_in] as float32 .npy files."
        })
public final class SaeRunCommand implements Callable<Integer> {
    @Mixin
    SaeOption sae;

    @Option(names = "--x", required = true, paramLabel = "X.npy", description = "activations [n, d_in]")
    Path x;

    @Option(names = "--features", required = true, paramLabel = "F.npy", description = "where to write the features")
    Path features;

    @Option(
            names = "--reconstruction",
            required = true,
            paramLabel = "R.npy",
            description = "where to write the reconstructions")
    Path reconstruction;

    @Override
    public Integer call() {
        Sae s = sae.load();
        INDArray input = NpyReader.read(x);
        if (input.rank() != 2 || input.size(1) != s.config().dIn())
            throw new dev.loupe.engine.LoupeException(
                    x + ": expected activations [n, " + s.config().dIn() + "] for the SAE ("
                            + s.config().describe() + "), got " + java.util.Arrays.toString(input.shape()));
        INDArray f = s.encode(input);
        INDArray r = s.decode(f);
        NpyWriter.write(features, f.castTo(DataType.FLOAT));
        NpyWriter.write(reconstruction, r.castTo(DataType.FLOAT));
        System.out.println("wrote " + features + " " + java.util.Arrays.toString(f.shape()) + " and " + reconstruction
                + " " + java.util.Arrays.toString(r.shape()));
        return 0;
    }
}
