package dev.loupe.cli;

import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./loupe logits}: the next-token logits of one prompt as a float32 {@code .npy}. */
@Command(
        name = "logits",
        mixinStandardHelpOptions = true,
        description = "Writes the next-token logits [n_tokens, d_vocab] of --tokens or --prompt as float32 .npy.")
final class LogitsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "PATH", description = "the model (see ./loupe --help)")
    String model;

    @Mixin
    PromptOptions input;

    @Option(names = "--out", required = true, paramLabel = "F.npy", description = "the .npy file to write")
    Path out;

    @Override
    public Integer call() {
        Path where = ModelLoader.locate(model);
        int[] ids = input.ids("logits", where);
        HookedTransformer m = ModelLoader.load(where.toString());
        INDArray logits = m.run(ids).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        NpyWriter.write(out, logits.castTo(DataType.FLOAT).dup('c'));
        System.out.println("wrote " + out + " " + Arrays.toString(logits.shape()) + " float32");
        return 0;
    }
}
