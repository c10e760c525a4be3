package dev.loupe.notebooks.kernel;

import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import jdk.jshell.DeclarationSnippet;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import jdk.jshell.SourceCodeAnalysis.CompletionInfo;
import jdk.jshell.UnresolvedReferenceException;

/**
 * Evaluates notebook cells with JShell: splits a cell into snippets, evaluates them in order, and
 * turns compile errors, exceptions and stops into {@link CellError}s with readable messages. The
 * value of a cell is the value of its last snippet when that snippet is an expression.
 */
public final class CellEvaluator implements AutoCloseable {

    /** Returned by {@link #eval} when the cell's last snippet is not an expression. */
    public static final Object NO_VALUE = new Object();

    private final JShell shell;
    private final CellExecutionControl control;
    private final Set<String> classpath = new LinkedHashSet<>();

    /**
     * @param classpath entries the cells compile against (besides the JDK); the kernel passes its own
     * @param imports   import statements run once before the first cell
     */
    public CellEvaluator(List<String> classpath, List<String> imports, PrintStream console) {
        AtomicReference<CellExecutionControl> created = new AtomicReference<>();
        this.shell = JShell.builder()
                .executionEngine(CellExecutionControl.provider(created), null)
                .out(console)
                .err(console)
                .build();
        this.control = created.get();
        for (String entry : classpath) addToClasspath(entry);
        for (String imp : imports) {
            List<SnippetEvent> events = shell.eval(imp);
            for (SnippetEvent e : events) {
                if (e.status() == Snippet.Status.REJECTED) {
                    throw new IllegalStateException("default import failed: " + imp + ": " + diagnostics(e.snippet()));
                }
            }
        }
    }

    /** Cell timeout in milliseconds; 0 for none. */
    public void setTimeoutMillis(long millis) {
        control.setTimeoutMillis(millis);
    }

    public long timeoutMillis() {
        return control.timeoutMillis();
    }

    /** Adds a jar or class folder for the cells that follow (compiler and class loader both). */
    public void addToClasspath(String entry) {
        String path = new File(entry).getAbsolutePath();
        if (classpath.add(path)) shell.addToClasspath(path);
    }

    public Set<String> classpath() {
        return Set.copyOf(classpath);
    }

    /** Stops the running cell (interrupt from the frontend). */
    public void interrupt() {
        control.stop();
    }

    /**
     * Runs a cell. Returns the last snippet's value (possibly {@link CellExecutionControl#NULL} for
     * null) or {@link #NO_VALUE}; throws {@link CellError} for a compile error, an exception or a stop.
     */
    public Object eval(String code) {
        control.takeStopReason();
        control.clearValues();
        try {
            Object last = NO_VALUE;
            for (Piece piece : split(code)) {
                last = evalPiece(code, piece);
            }
            return last == CellExecutionControl.NULL ? null : last;
        } finally {
            control.clearValues();
        }
    }

    /** A snippet of a cell: its source as JShell wants it and where it starts in the cell. */
    record Piece(String source, int start, int end, boolean complete) {}

    List<Piece> split(String code) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        List<Piece> pieces = new ArrayList<>();
        String remaining = code;
        int consumed = 0;
        while (!remaining.isBlank()) {
            CompletionInfo info = analysis.analyzeCompletion(remaining);
            int lead = leadingWhitespace(remaining);
            if (info.completeness() == Completeness.EMPTY) break;
            if (!info.completeness().isComplete() || info.source() == null) {
                // Incomplete or unparsable: give JShell the rest so that it reports what is wrong.
                pieces.add(new Piece(remaining, consumed + lead, code.length(), false));
                break;
            }
            int used = remaining.length() - info.remaining().length();
            pieces.add(new Piece(info.source(), consumed + lead, consumed + used, true));
            consumed += used;
            remaining = info.remaining();
        }
        return pieces;
    }

    private static int leadingWhitespace(String s) {
        int i = 0;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        return i;
    }

    private Object evalPiece(String cell, Piece piece) {
        List<SnippetEvent> events = shell.eval(piece.source());
        CellExecutionControl.StopReason stopped = control.takeStopReason();
        Object value = NO_VALUE;
        for (SnippetEvent event : events) {
            if (event.causeSnippet() != null) continue; // updates of other snippets, not this one
            Snippet snippet = event.snippet();
            if (event.status() == Snippet.Status.REJECTED) {
                throw new CellError(
                        CellError.Kind.COMPILE_ERROR, firstDiagnostic(snippet), compileReport(cell, piece, snippet));
            }
            if (stopped != null) break;
            if (event.exception() != null) {
                throw exceptionError(event.exception());
            }
            if (event.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED
                    || event.status() == Snippet.Status.RECOVERABLE_DEFINED) {
                String missing = shell.unresolvedDependencies((DeclarationSnippet) snippet)
                        .collect(Collectors.joining(", "));
                if (!missing.isEmpty()) {
                    String msg = "cannot find symbol: " + missing;
                    throw new CellError(
                            CellError.Kind.COMPILE_ERROR, msg, msg + "\n" + lineReport(cell, piece, 0, 0, 0));
                }
            }
            if (hasValue(snippet) && control.hasValue(event.value())) {
                value = control.takeValue(event.value());
            }
        }
        if (stopped != null) {
            throw stopError(stopped);
        }
        return value;
    }

    private CellError stopError(CellExecutionControl.StopReason reason) {
        if (reason == CellExecutionControl.StopReason.TIMED_OUT) {
            String msg = "the cell ran longer than its timeout of " + control.timeoutMillis() / 1000.0
                    + " s and was stopped (raise it with %timeout SECONDS, 0 for none)";
            return new CellError(CellError.Kind.TIMED_OUT, msg, msg);
        }
        String msg = "the cell was interrupted";
        return new CellError(CellError.Kind.INTERRUPTED, msg, msg);
    }

    private static boolean hasValue(Snippet snippet) {
        return switch (snippet.kind()) {
            case EXPRESSION -> true;
            case VAR -> snippet.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
            default -> false;
        };
    }

    private String firstDiagnostic(Snippet snippet) {
        return shell.diagnostics(snippet)
                .findFirst()
                .map(d -> d.getMessage(Locale.ROOT).lines().findFirst().orElse("compile error"))
                .orElse("compile error");
    }

    private String diagnostics(Snippet snippet) {
        return shell.diagnostics(snippet).map(d -> d.getMessage(Locale.ROOT)).collect(Collectors.joining("; "));
    }

    private String compileReport(String cell, Piece piece, Snippet snippet) {
        StringBuilder out = new StringBuilder();
        for (Diag d : shell.diagnostics(snippet).toList()) {
            out.append(d.isError() ? "" : "warning: ")
                    .append(d.getMessage(Locale.ROOT))
                    .append('\n');
            out.append(lineReport(
                    cell, piece, (int) d.getStartPosition(), (int) d.getPosition(), (int) d.getEndPosition()));
        }
        return out.toString().stripTrailing();
    }

    /** "line N: source" with a caret under the diagnostic's span (positions relative to the snippet). */
    private static String lineReport(String cell, Piece piece, int start, int pos, int end) {
        String src = piece.source();
        int at = Math.max(0, Math.min(pos < 0 ? 0 : pos, src.length()));
        int lineStart = src.lastIndexOf('\n', at - 1) + 1;
        int lineEnd = src.indexOf('\n', at);
        if (lineEnd < 0) lineEnd = src.length();
        String line = src.substring(lineStart, lineEnd);
        int cellLine = 1
                + (int) cell.substring(0, Math.min(piece.start(), cell.length()))
                        .chars()
                        .filter(c -> c == '\n')
                        .count()
                + (int) src.substring(Math.min(leadingWhitespace(src), lineStart), lineStart)
                        .chars()
                        .filter(c -> c == '\n')
                        .count();
        String prefix = "line " + cellLine + ": ";
        int from = Math.max(lineStart, start < 0 ? at : start) - lineStart;
        int to = Math.min(lineEnd, Math.max(end, at + 1)) - lineStart;
        StringBuilder caret = new StringBuilder(" ".repeat(prefix.length()));
        for (int i = 0; i < from; i++) caret.append(line.charAt(i) == '\t' ? '\t' : ' ');
        caret.append("^".repeat(Math.max(1, to - from)));
        return prefix + line + "\n" + caret + "\n";
    }

    private static CellError exceptionError(JShellException e) {
        if (e instanceof UnresolvedReferenceException u) {
            String msg = "'" + u.getSnippet().toString().lines().findFirst().orElse("") + "' cannot run until "
                    + "its missing declarations exist";
            return new CellError(CellError.Kind.EXCEPTION, msg, msg).withExceptionName("UnresolvedReference");
        }
        String name = e instanceof EvalException ee
                ? ee.getExceptionClassName()
                : e.getClass().getName();
        String message = e.getMessage() == null ? "" : e.getMessage();
        StringBuilder details = new StringBuilder();
        appendThrowable(details, e, "");
        String simple = name.substring(name.lastIndexOf('.') + 1);
        return new CellError(
                        CellError.Kind.EXCEPTION, message, details.toString().stripTrailing())
                .withExceptionName(simple);
    }

    /** The exception, its stack down to the cell's own frame (the kernel's frames say nothing), and its causes. */
    private static void appendThrowable(StringBuilder out, Throwable t, String heading) {
        String name = t instanceof EvalException ee
                ? ee.getExceptionClassName()
                : t.getClass().getName();
        out.append(heading).append(name);
        if (t.getMessage() != null) out.append(": ").append(t.getMessage());
        out.append('\n');
        for (StackTraceElement frame : t.getStackTrace()) {
            String cls = frame.getClassName();
            if (cls.startsWith("jdk.internal.reflect")
                    || cls.startsWith("java.lang.reflect")
                    || cls.startsWith("dev.loupe.notebooks.kernel.CellExecutionControl")) break;
            String where = cls.isEmpty() || cls.startsWith("REPL.")
                    ? "cell snippet " + (frame.getFileName() == null ? "" : frame.getFileName()) + ":"
                            + frame.getLineNumber()
                    : frame.toString();
            out.append("    at ").append(where).append('\n');
        }
        if (t.getCause() != null && t.getCause() != t) appendThrowable(out, t.getCause(), "Caused by: ");
    }

    // ---- completion and inspection ------------------------------------------------------------

    /** Completion candidates at a cursor: the replacement texts and the span they replace. */
    public record Completion(List<String> candidates, int start, int end) {}

    public Completion complete(String code, int cursor) {
        Piece piece = pieceAt(code, cursor);
        int[] anchor = new int[1];
        List<String> candidates = shell
                .sourceCodeAnalysis()
                .completionSuggestions(code.substring(piece.start(), cursor), cursor - piece.start(), anchor)
                .stream()
                .map(SourceCodeAnalysis.Suggestion::continuation)
                .distinct()
                .toList();
        return new Completion(candidates, piece.start() + anchor[0], cursor);
    }

    /** Signature and Javadoc of what is under the cursor; empty when nothing is known. */
    public String inspect(String code, int cursor) {
        Piece piece = pieceAt(code, cursor);
        // documentation() wants the cursor inside a call or on a name: extend it to the end of the word.
        int end = cursor;
        while (end < code.length() && Character.isJavaIdentifierPart(code.charAt(end))) end++;
        String text = code.substring(piece.start(), end);
        String doc = documentation(text);
        // On a bare method name JShell may find nothing; inside its call it lists the overloads.
        return doc.isEmpty() && !text.endsWith("(") ? documentation(text + "(") : doc;
    }

    private String documentation(String text) {
        return shell.sourceCodeAnalysis().documentation(text, text.length(), true).stream()
                .map(d -> d.javadoc() == null || d.javadoc().isBlank()
                        ? d.signature()
                        : d.signature() + "\n\n" + d.javadoc())
                .distinct()
                .collect(Collectors.joining("\n\n"));
    }

    /** "complete", "incomplete" or "invalid" for the whole cell. */
    public String completeness(String code) {
        if (code.isBlank()) return "complete";
        List<Piece> pieces = split(code);
        if (pieces.isEmpty()) return "complete";
        Piece last = pieces.get(pieces.size() - 1);
        if (last.complete()) return "complete";
        Completeness c =
                shell.sourceCodeAnalysis().analyzeCompletion(last.source()).completeness();
        return c == Completeness.DEFINITELY_INCOMPLETE || c == Completeness.CONSIDERED_INCOMPLETE
                ? "incomplete"
                : "invalid";
    }

    private Piece pieceAt(String code, int cursor) {
        int start = 0;
        for (Piece p : split(code.substring(0, Math.min(cursor, code.length())))) {
            if (p.complete() && p.end() < cursor) start = p.end();
        }
        while (start < cursor && Character.isWhitespace(code.charAt(start))) start++;
        return new Piece(code.substring(start, cursor), start, cursor, false);
    }

    @Override
    public void close() {
        shell.close();
    }
}
