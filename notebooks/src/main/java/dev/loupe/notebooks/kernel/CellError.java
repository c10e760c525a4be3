package dev.loupe.notebooks.kernel;

/**
 * A cell that did not run to the end: it did not compile, threw, or was stopped. The message is
 * what the notebook shows; the kernel prints no Java stack trace of its own for these.
 */
public final class CellError extends RuntimeException {

    /** What went wrong, shown as the error's name in the notebook. */
    public enum Kind {
        COMPILE_ERROR,
        EXCEPTION,
        INTERRUPTED,
        TIMED_OUT
    }

    private final Kind kind;
    private final String details;

    CellError(Kind kind, String summary, String details) {
        super(summary, null, false, false);
        this.kind = kind;
        this.details = details;
    }

    public Kind kind() {
        return kind;
    }

    /** The full, multi-line report: diagnostics with the source line, or the exception and its stack. */
    public String details() {
        return details;
    }

    /** The error name Jupyter shows ("CompileError", "LoupeException", "Interrupted", ...). */
    public String errorName() {
        return switch (kind) {
            case COMPILE_ERROR -> "CompileError";
            case INTERRUPTED -> "Interrupted";
            case TIMED_OUT -> "CellTimeout";
            case EXCEPTION -> exceptionName;
        };
    }

    private String exceptionName = "Exception";

    CellError withExceptionName(String name) {
        this.exceptionName = name;
        return this;
    }
}
