package dev.loupe.notebooks.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The evaluator without Jupyter: values, errors, stops, completion. */
class CellEvaluatorTest {

    static CellEvaluator evaluator;

    @BeforeAll
    static void start() throws Exception {
        // Surefire's java.class.path is a manifest-only jar: use the module's classpath, as the kernel does.
        List<String> cp = new ArrayList<>(
                List.of(Path.of("target/classes").toAbsolutePath().toString()));
        cp.addAll(Arrays.asList(
                Files.readString(Path.of("target/kernel-classpath.txt")).trim().split(File.pathSeparator)));
        evaluator =
                new CellEvaluator(cp, List.of("import java.util.*;", "import dev.loupe.engine.model.*;"), System.err);
    }

    @AfterAll
    static void stop() {
        evaluator.close();
    }

    @Test
    void valueOfTheLastExpressionIsTheRealObject() {
        Object v = evaluator.eval("var list = new ArrayList<Integer>();\nlist.add(3);\nlist");
        assertTrue(v instanceof ArrayList<?> l && l.equals(List.of(3)), String.valueOf(v));
        assertSame(CellEvaluator.NO_VALUE, evaluator.eval("int unused = 1;"));
        assertSame(CellEvaluator.NO_VALUE, evaluator.eval("// only a comment"));
        assertEquals(null, evaluator.eval("(String) null"));
        assertEquals(4, evaluator.eval("list.get(0) + 1"));
    }

    @Test
    void compileErrorNamesTheLineAndMarksTheSpot() {
        CellError e = assertThrows(CellError.class, () -> evaluator.eval("int a = 1;\n\nint b = undefinedName + 1;"));
        assertEquals(CellError.Kind.COMPILE_ERROR, e.kind());
        assertTrue(e.details().contains("cannot find symbol"), e.details());
        assertTrue(e.details().contains("line 3: int b = undefinedName + 1;"), e.details());
        assertTrue(e.details().contains("        ^^^^^^^^^^^^^"), e.details());
    }

    @Test
    void incompleteCellIsAnError() {
        CellError e = assertThrows(CellError.class, () -> evaluator.eval("for (int i = 0; i < 3; i++) {"));
        assertEquals(CellError.Kind.COMPILE_ERROR, e.kind());
        assertEquals("incomplete", evaluator.completeness("for (int i = 0; i < 3; i++) {"));
        assertEquals("complete", evaluator.completeness("int z = 1;"));
    }

    @Test
    void exceptionShowsTypeMessageAndCause() {
        CellError e = assertThrows(
                CellError.class,
                () -> evaluator.eval(
                        "throw new IllegalStateException(\"outer\", new ArithmeticException(\"inner\"));"));
        assertEquals(CellError.Kind.EXCEPTION, e.kind());
        assertEquals("IllegalStateException", e.errorName());
        assertTrue(e.details().startsWith("java.lang.IllegalStateException: outer"), e.details());
        assertTrue(e.details().contains("Caused by: java.lang.ArithmeticException: inner"), e.details());
        assertTrue(!e.details().contains("CellExecutionControl"), "kernel frames leak: " + e.details());
    }

    @Test
    void busyLoopStopsAtTheTimeoutAndTheNextCellRuns() {
        evaluator.setTimeoutMillis(500);
        try {
            long t0 = System.nanoTime();
            CellError e = assertThrows(CellError.class, () -> evaluator.eval("long n = 0; while (true) { n++; }"));
            assertEquals(CellError.Kind.TIMED_OUT, e.kind());
            assertTrue((System.nanoTime() - t0) / 1e9 < 15, "stop took too long");
        } finally {
            evaluator.setTimeoutMillis(0);
        }
        assertEquals(6, evaluator.eval("2 * 3"));
    }

    @Test
    void interruptFromAnotherThreadStopsASleepingCell() throws Exception {
        Thread interrupter = new Thread(() -> {
            try {
                Thread.sleep(500);
            } catch (InterruptedException ignored) {
                return;
            }
            evaluator.interrupt();
        });
        interrupter.start();
        CellError e = assertThrows(CellError.class, () -> evaluator.eval("Thread.sleep(60_000);"));
        interrupter.join();
        assertEquals(CellError.Kind.INTERRUPTED, e.kind());
        assertEquals("ok", evaluator.eval("\"ok\""));
    }

    @Test
    void completesMembersAtTheCursorOfALaterSnippet() {
        String code = "int q = 1;\nTokens.o";
        CellEvaluator.Completion c = evaluator.complete(code, code.length());
        assertTrue(c.candidates().contains("of("), c + " " + evaluator.split(code));
        assertEquals(code.length() - 1, c.start());
        String doc = evaluator.inspect("Tokens.of", 9);
        assertTrue(doc.contains("Tokens.of("), doc);
    }

    @Test
    void outputIsCappedWithANote() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        CellOutput out = new CellOutput(new PrintStream(sink, true, StandardCharsets.UTF_8), "stdout", 2000);
        PrintStream ps = out.printStream();
        for (int i = 0; i < 10_000; i++) ps.println("line " + i);
        out.finish();
        String s = sink.toString(StandardCharsets.UTF_8);
        assertTrue(s.startsWith("line 0\nline 1\n"), s.substring(0, 40));
        assertTrue(s.length() < 2400, "not capped: " + s.length());
        assertTrue(s.contains("output truncated") && s.contains("bytes of stdout output were dropped"), s);
    }
}
