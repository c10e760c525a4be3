package dev.loupe.notebooks.kernel;

import dev.loupe.engine.LoupeException;
import dev.loupe.notebooks.display.Renderers;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.dflib.jjava.jupyter.channels.ShellReplyEnvironment;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.JupyterIO;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.magic.MagicParser;
import org.dflib.jjava.jupyter.kernel.magic.MagicTranspiler;
import org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;
import org.dflib.jjava.jupyter.kernel.util.TextColor;

/**
 * The Loupe Jupyter kernel: Java cells evaluated by JShell in this JVM, with Loupe on the classpath
 * and imported, Loupe's objects rendered as HTML, magics for the classpath and Maven, interrupt and a
 * cell timeout, and a cap on printed output.
 */
public final class LoupeKernel extends BaseKernel {

    public static final String NAME = "loupe";

    private final KernelSettings settings;
    private final CompletableFuture<CellEvaluator> evaluator;
    private final ScheduledExecutorService outputFlusher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "loupe-output-flusher");
        t.setDaemon(true);
        return t;
    });
    private volatile CellOutput cellOut;
    private volatile CellOutput cellErr;

    public LoupeKernel(KernelSettings settings) {
        super(
                NAME,
                version(),
                new LanguageInfo.Builder("java")
                        .version(System.getProperty("java.version"))
                        .mimetype("text/x-java-source")
                        .fileExtension(".jshell")
                        .pygments("java")
                        .codemirror("text/x-java")
                        .build(),
                List.of(),
                null,
                new JupyterIO(StandardCharsets.UTF_8),
                new CommManager(),
                new Renderer(),
                new MagicParser("^\\s*%", "%%", new MagicTranspiler()),
                new MagicsRegistry(),
                false,
                new StringStyler.Builder()
                        .addPrimaryStyle(TextColor.BOLD_RESET_FG)
                        .addSecondaryStyle(TextColor.BOLD_RED_FG)
                        .addHighlightStyle(TextColor.BOLD_RESET_FG)
                        .build());
        this.settings = settings;
        Renderers.registerAll(renderer);
        registerMagics();
        // JShell's compiler takes a couple of seconds to start: do it while Jupyter connects.
        PrintStream console = System.err;
        List<String> classpath =
                Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator));
        this.evaluator = CompletableFuture.supplyAsync(() -> {
            CellEvaluator e = new CellEvaluator(classpath, DefaultImports.forClasspath(classpath), console);
            e.setTimeoutMillis(settings.cellTimeoutMillis());
            return e;
        });
        outputFlusher.scheduleWithFixedDelay(this::flushOutputs, 200, 200, TimeUnit.MILLISECONDS);
    }

    private static String version() {
        String v = LoupeKernel.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** The running kernel, for code in cells (display); fails outside a notebook. */
    public static LoupeKernel current() {
        BaseKernel k = BaseKernel.notebookKernel();
        if (!(k instanceof LoupeKernel lk)) {
            throw new LoupeException("not running in a Loupe notebook kernel");
        }
        return lk;
    }

    /** Started kernels are the only ones with {@link #current()}; tests may also use it without Jupyter. */
    public static boolean isRunning() {
        return BaseKernel.notebookKernel instanceof LoupeKernel;
    }

    public CellEvaluator evaluator() {
        return evaluator.join();
    }

    // ---- execution ---------------------------------------------------------------------------

    @Override
    protected void replaceOutputStreams(ShellReplyEnvironment env) {
        super.replaceOutputStreams(env); // points System.out/err at Jupyter, restored after the cell
        CellOutput out = new CellOutput(io.out, "stdout", settings.maxOutputBytes());
        CellOutput err = new CellOutput(io.err, "stderr", settings.maxOutputBytes());
        cellOut = out;
        cellErr = err;
        System.setOut(out.printStream());
        System.setErr(err.printStream());
    }

    /** Sends what the current cell printed so far (before a display, so that the order is kept). */
    public void flushOutputs() {
        CellOutput out = cellOut, err = cellErr;
        if (out != null) out.flushNow();
        if (err != null) err.flushNow();
    }

    private void finishOutputs() {
        CellOutput out = cellOut, err = cellErr;
        cellOut = null;
        cellErr = null;
        if (out != null) out.finish();
        if (err != null) err.finish();
    }

    @Override
    public Object evalRaw(String source) {
        return evaluator().eval(magicParser.resolveMagics(source));
    }

    @Override
    public DisplayData eval(String source) {
        try {
            Object value = evalRaw(source);
            if (value == CellEvaluator.NO_VALUE) return null;
            if (value == null) return new DisplayData("null");
            return value instanceof DisplayData d ? d : renderer.render(value);
        } finally {
            finishOutputs();
        }
    }

    @Override
    public void interrupt() {
        if (evaluator.isDone()) evaluator().interrupt();
    }

    @Override
    public List<String> formatError(Throwable e) {
        if (e instanceof CellError ce) {
            List<String> lines = new ArrayList<>();
            String[] report = ce.details().split("\n");
            if (ce.kind() == CellError.Kind.EXCEPTION && report.length > 0) {
                lines.add(errorStyler.secondary(report[0]));
                lines.addAll(Arrays.asList(report).subList(1, report.length));
            } else {
                lines.add(errorStyler.secondary(ce.errorName() + ": " + (report.length > 0 ? report[0] : "")));
                if (report.length > 1) lines.addAll(Arrays.asList(report).subList(1, report.length));
            }
            return lines;
        }
        return super.formatError(e);
    }

    // ---- completion, inspection ------------------------------------------------------------------

    @Override
    public ReplacementOptions complete(String code, int at) {
        CellEvaluator.Completion c = evaluator().complete(code, at);
        return new ReplacementOptions(c.candidates(), c.start(), c.end());
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extraDetail) {
        String doc = evaluator().inspect(code, at);
        return doc.isBlank() ? null : new DisplayData(doc);
    }

    @Override
    public String isComplete(String code) {
        return switch (evaluator().completeness(code)) {
            case "complete" -> IS_COMPLETE_YES;
            case "incomplete" -> "    ";
            default -> IS_COMPLETE_BAD;
        };
    }

    @Override
    public void onShutdown(boolean isRestarting) {
        super.onShutdown(isRestarting);
        outputFlusher.shutdownNow();
        if (evaluator.isDone()) evaluator().close();
    }

    // ---- magics ----------------------------------------------------------------------------------

    private void registerMagics() {
        magicsRegistry.registerLineMagic("classpath", (kernel, args) -> addClasspath(args));
        magicsRegistry.registerLineMagic("jars", (kernel, args) -> addClasspath(args));
        magicsRegistry.registerLineMagic("maven", (kernel, args) -> {
            List<String> jars = MavenDependencies.resolve(args);
            jars.forEach(evaluator()::addToClasspath);
            System.out.println("added " + jars.size() + " jar(s) to the classpath");
            return null;
        });
        magicsRegistry.registerLineMagic("timeout", (kernel, args) -> {
            if (args.size() != 1) throw new LoupeException("%timeout: expected SECONDS (0 for none), got " + args);
            double s;
            try {
                s = Double.parseDouble(args.get(0));
            } catch (NumberFormatException e) {
                throw new LoupeException("%timeout: expected a number of seconds, got '" + args.get(0) + "'");
            }
            if (s < 0) throw new LoupeException("%timeout: expected seconds >= 0, got " + s);
            evaluator().setTimeoutMillis(Math.round(s * 1000));
            return null;
        });
    }

    /** Files matching a glob in its last path element ("lib/*.jar"). */
    private static List<Path> glob(String pattern) throws IOException {
        Path p = Path.of(pattern);
        Path dir = p.getParent() == null ? Path.of(".") : p.getParent();
        if (dir.toString().contains("*") || dir.toString().contains("?")) {
            throw new LoupeException("%classpath: wildcards only in the file name, not in folders: '" + pattern + "'");
        }
        List<Path> found = new ArrayList<>();
        if (!Files.isDirectory(dir)) return found;
        try (var stream = Files.newDirectoryStream(dir, p.getFileName().toString())) {
            stream.forEach(found::add);
        }
        found.sort(null);
        return found;
    }

    /** Adds jars and class folders; arguments are paths or globs, several per argument separated by ':'. */
    private Object addClasspath(List<String> args) throws IOException {
        if (args.isEmpty())
            throw new LoupeException("%classpath: expected one or more jars, folders or globs (lib/*.jar)");
        List<String> added = new ArrayList<>();
        for (String arg : args) {
            for (String part : arg.split(File.pathSeparator)) {
                if (part.isBlank()) continue;
                List<Path> found = part.contains("*") || part.contains("?")
                        ? glob(part)
                        : Files.exists(Path.of(part)) ? List.of(Path.of(part)) : List.of();
                if (found.isEmpty()) {
                    throw new LoupeException("%classpath: '" + part + "' matches no file (working directory "
                            + Path.of("").toAbsolutePath() + ")");
                }
                for (Path p : found) {
                    evaluator().addToClasspath(p.toString());
                    added.add(p.toString());
                }
            }
        }
        System.out.println("added to the classpath: " + String.join(", ", added));
        return null;
    }
}
