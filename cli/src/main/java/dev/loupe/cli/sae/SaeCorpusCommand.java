package dev.loupe.cli.sae;

import dev.loupe.saes.zoo.TaskCorpus;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe sae corpus}: a zoo task's sequences as an .npy corpus (for harvesting a zoo model's activations). */
@Command(
        name = "corpus",
        mixinStandardHelpOptions = true,
        description = {
            "Writes sequences of a zoo task (what the zoo model was trained on) as a 2-D int32 .npy corpus.",
            "induction: [BOS=0, random tokens with a repeated segment] of 64 tokens (attn-only-2l)."
        })
public final class SaeCorpusCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, paramLabel = "TASK", description = "induction or modadd")
    String task;

    @Option(names = "--sequences", required = true, paramLabel = "N", description = "rows of the corpus")
    int sequences;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "FILE.npy", description = "the corpus file")
    Path out;

    @Override
    public Integer call() {
        TaskCorpus.write(task, sequences, seed, out);
        System.out.println("wrote " + out + " (" + sequences + " sequences of task " + task + ")");
        return 0;
    }
}
