package dev.loupe.cli.bench;

import dev.loupe.bench.PatchBenchmark;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe bench patch}: see {@link PatchBenchmark}. */
@Command(
        name = "patch",
        mixinStandardHelpOptions = true,
        description = {
            "An activation-patching sweep (every layer x position, or every head) on random weights, batched.",
            "With --vs-torch also the same sweep as TransformerLens runs it (one hooked forward per patch) in"
                    + " PyTorch, last line ratio_vs_torch=...; also attribution patching's time in forward+backwards."
        })
public final class BenchPatchCommand implements Callable<Integer> {
    @Option(
            names = "--shape",
            paramLabel = "NAME",
            defaultValue = "gpt2-small",
            completionCandidates = BenchForwardCommand.Shapes.class,
            description = "gpt2-small or tiny; default: ${DEFAULT-VALUE}")
    String shape;

    @Option(names = "--seq", paramLabel = "N", defaultValue = "64", description = "default: ${DEFAULT-VALUE}")
    int seq;

    @Option(
            names = "--target",
            paramLabel = "T",
            defaultValue = "resid_pre",
            completionCandidates = Targets.class,
            description = "resid_pre, resid_mid, resid_post, attn_out, mlp_out or head_z; default: ${DEFAULT-VALUE}")
    String target;

    @Option(
            names = "--memory",
            paramLabel = "MIB",
            defaultValue = "1024",
            description = "activation memory of one batched pass, in MiB; default: ${DEFAULT-VALUE}")
    long memory;

    @Option(
            names = "--seed",
            paramLabel = "S",
            defaultValue = "0",
            description = "weights and tokens; default: ${DEFAULT-VALUE}")
    int seed;

    @Option(names = "--vs-torch", description = "also run the PyTorch peer with as many threads")
    boolean vsTorch;

    @Option(
            names = "--python",
            paramLabel = "PATH",
            description = "the Python with torch for --vs-torch (default: $LOUPE_PYTHON, else /usr/bin/python3)")
    String python;

    @Option(
            names = "--torch-sample",
            paramLabel = "N",
            defaultValue = "0",
            description = "time only N of PyTorch's patched runs, evenly spread, and scale to the sweep (0: all);"
                    + " default: ${DEFAULT-VALUE}")
    int torchSample;

    static final class Targets extends java.util.ArrayList<String> {
        Targets() {
            super(PatchBenchmark.TARGETS);
        }
    }

    @Override
    public Integer call() {
        PatchBenchmark.run(new PatchBenchmark.Settings(shape, seq, target, seed, memory, vsTorch, python, torchSample));
        return 0;
    }
}
