package dev.loupe.cli;

import dev.loupe.cli.bench.BenchForwardCommand;
import dev.loupe.cli.bench.BenchLoadCommand;
import dev.loupe.cli.bench.BenchPatchCommand;
import dev.loupe.cli.bench.BenchProbeCommand;
import dev.loupe.cli.bench.BenchSaeCommand;
import dev.loupe.cli.bench.BenchSparkHarvestCommand;
import dev.loupe.cli.bench.BenchTrainCommand;
import dev.loupe.cli.notebooks.KernelCommand;
import dev.loupe.cli.notebooks.LabCommand;
import dev.loupe.cli.probe.ProbeFitCommand;
import dev.loupe.cli.probe.ProbePredictCommand;
import dev.loupe.cli.sae.SaeCorpusCommand;
import dev.loupe.cli.sae.SaeDashboardCommand;
import dev.loupe.cli.sae.SaeEvalCommand;
import dev.loupe.cli.sae.SaeRunCommand;
import dev.loupe.cli.sae.SaeTrainCommand;
import dev.loupe.cli.store.HarvestCommand;
import dev.loupe.cli.store.StoreBenchCommand;
import dev.loupe.cli.store.StoreBenchExportCommand;
import dev.loupe.cli.store.StoreExportCommand;
import dev.loupe.cli.store.StoreFeaturesCommand;
import dev.loupe.cli.store.StoreInfoCommand;
import dev.loupe.cli.store.StoreVerifyCommand;
import dev.loupe.engine.LoupeException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The {@code ./loupe} command line. {@link #commandLine()} is the one place where commands are
 * registered; each command is a picocli {@code @Command} class implementing {@code Callable<Integer>}.
 * Bad input of any kind, parsing or later, is a {@link LoupeException}: one line {@code loupe: ...}
 * on stderr naming the option or file, and exit status 2. {@code --help} and {@code --version} exit 0.
 */
@Command(
        name = "loupe",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        description = "Mechanistic interpretability on the JVM: run, inspect, train and benchmark transformers.",
        footer = {
            "  test        Runs every test (the launcher runs Maven for it).",
            "",
            "Run './loupe COMMAND --help' for a command's options. Model PATHs (--model) are a Loupe checkpoint folder,",
            "a Hugging Face model folder, a llama2.c .bin file, an embedded zoo model (attn-only-2l, modadd-1l,",
            "shakespeare-char), or a Hugging Face model id (e.g. gpt2), found in the Hugging Face cache or downloaded",
            "into it. Tokenizer PATHs (--tokenizer) are a folder or file, or an embedded text model (shakespeare-char).",
            "Bad input prints 'loupe: ...' naming what is wrong and exits with status 2."
        })
public final class Main implements Callable<Integer> {

    /** Usage lines wrap here: wide enough for the options' descriptions, narrow enough for a terminal. */
    static final int USAGE_WIDTH = 110;

    /**
     * Every command, in the order {@code ./loupe --help} lists them. A new command is one class and one
     * line here; a new subcommand of a group (bench, store, ...) is one class in that group's line.
     */
    public static CommandLine commandLine() {
        CommandLine loupe = new CommandLine(new Main())
                .addSubcommand(new DemoCommand())
                .addSubcommand(new InfoCommand())
                .addSubcommand(new LogitsCommand())
                .addSubcommand(new GenerateCommand())
                .addSubcommand(new TokenizeCommand())
                .addSubcommand(new TrainCommand())
                .addSubcommand(new PatchCommand())
                .addSubcommand(group(
                        "bench",
                        "Benchmarks, each against its peer in the same run (last line ratio_vs_...=).",
                        new BenchForwardCommand(),
                        new BenchLoadCommand(),
                        new BenchTrainCommand(),
                        new BenchProbeCommand(),
                        new BenchSaeCommand(),
                        new BenchPatchCommand(),
                        new BenchSparkHarvestCommand()))
                .addSubcommand(group(
                        "probe",
                        "Linear probes on activations: fit and predict (see docs/probes.md).",
                        new ProbeFitCommand(),
                        new ProbePredictCommand()))
                .addSubcommand(new HarvestCommand())
                .addSubcommand(group(
                        "sae",
                        "Sparse autoencoders (SAELens's format): train, run, evaluate, dashboards.",
                        new SaeTrainCommand(),
                        new SaeRunCommand(),
                        new SaeEvalCommand(),
                        new SaeDashboardCommand(),
                        new SaeCorpusCommand()))
                .addSubcommand(group(
                        "store",
                        "Activation stores written by harvest: inspect, verify, export, feature statistics, benchmark.",
                        new StoreInfoCommand(),
                        new StoreVerifyCommand(),
                        new StoreExportCommand(),
                        new StoreFeaturesCommand(),
                        new StoreBenchCommand(),
                        new StoreBenchExportCommand()))
                .addSubcommand(new LabCommand())
                .addSubcommand(new KernelCommand())
                .addSubcommand(new CompletionCommand())
                .addSubcommand(new CommandLine.HelpCommand());
        configure(loupe);
        return loupe;
    }

    private Main() {}

    public static void main(String[] argv) {
        // ND4J and the kernel's JJava log through SLF4J (slf4j-simple): warnings only, never INFO lines.
        dev.loupe.notebooks.kernel.KernelMain.quietLogging();
        int status;
        try {
            status = run(argv);
        } catch (LoupeException e) {
            System.err.println("loupe: " + e.getMessage());
            status = 2;
        }
        System.exit(status);
    }

    /**
     * Parses {@code argv}, then runs the command it names and returns the exit status; bad input
     * throws {@link LoupeException}. {@code --help}/{@code --version} anywhere print and return 0.
     */
    public static int run(String... argv) {
        CommandLine loupe = commandLine();
        ParseResult parsed;
        try {
            parsed = loupe.parseArgs(argv);
        } catch (ParameterException e) {
            throw new LoupeException(CliErrors.describe(e, argv));
        }
        if (CommandLine.printHelpIfRequested(parsed)) return 0;
        ParseResult leaf = parsed;
        while (leaf.hasSubcommand()) leaf = leaf.subcommand();
        Object command = leaf.commandSpec().userObject();
        if (!(command instanceof Callable<?> callable)) throw CliErrors.missingSubcommand(leaf.commandSpec());
        Object status;
        try {
            status = callable.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new LoupeException(leaf.commandSpec().qualifiedName(" ") + ": " + e.getMessage(), e);
        }
        return status instanceof Integer i ? i : 0;
    }

    /** {@code ./loupe} alone: the usage, and status 2 (nothing was asked). */
    @Override
    public Integer call() {
        commandLine().usage(System.out);
        return 2;
    }

    /** A command that only groups subcommands ({@code bench}, {@code store}): its help lists them. */
    static CommandLine group(String name, String description, Object... subcommands) {
        CommandSpec spec = CommandSpec.create().name(name).mixinStandardHelpOptions(true);
        spec.usageMessage().description(description);
        CommandLine group = new CommandLine(spec);
        for (Object sub : subcommands) group.addSubcommand(sub);
        return group;
    }

    /** Settings every command shares: options may repeat (the last wins, as always), usage width. */
    private static void configure(CommandLine cl) {
        cl.setOverwrittenOptionsAllowed(true);
        cl.setUsageHelpWidth(USAGE_WIDTH);
        cl.setUsageHelpLongOptionsMaxWidth(30);
        for (CommandLine sub : List.copyOf(cl.getSubcommands().values())) configure(sub);
    }
}
