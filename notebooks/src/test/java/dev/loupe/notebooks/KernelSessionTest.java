package dev.loupe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel as Jupyter sees it: one session driven by jupyter_client (the notebook's own client)
 * through the real sockets. First result time, errors, interrupt, timeout, huge output, magics,
 * completion, inspection and display.
 */
class KernelSessionTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void sessionThroughJupyterClient(@TempDir Path tmp) throws IOException {
        JupyterTools.requireJupyter();
        Path jar = helloJar(tmp);
        Path jupyterPath = JupyterTools.kernelSpecDir(tmp, Map.of("LOUPE_MAX_OUTPUT_BYTES", "200000"));

        ArrayNode steps = JSON.createArrayNode();
        step(steps, "first", "1 + 1");
        step(steps, "compileError", "int a = 1;\nint x = \"text\";");
        step(steps, "exception", "throw new LoupeException(\"blocks.9.attn.hook_z: no such hook\");");
        step(steps, "loop", "long n = 0; while (true) { n++; }").put("interrupt_after_s", 2);
        step(steps, "afterInterrupt", "2 + 3");
        step(steps, "sleepInterrupted", "Thread.sleep(600_000); 1").put("interrupt_after_s", 1);
        step(steps, "timeout", "%timeout 1\nThread.sleep(600_000);");
        step(steps, "afterTimeout", "%timeout 0\n\"still alive\"");
        step(steps, "hugeOutput", "for (int i = 0; i < 1_000_000; i++) System.out.println(\"line \" + i);\n42");
        step(steps, "afterHugeOutput", "7 * 6");
        step(steps, "classpath", "%classpath " + jar + "\nloupetest.Hello.greet()");
        step(
                        steps,
                        "maven",
                        "%maven org.junit.jupiter:junit-jupiter-api:" + junitVersion()
                                + "\norg.junit.jupiter.api.Assertions.class.getSimpleName()")
                .put("timeout_s", 300);
        step(steps, "display", "display(heatmap(new double[][]{{1, 2}, {3, 4}}));\nSystem.out.println(\"after\");");
        step(steps, "table", "Table.create(\"t\", IntColumn.create(\"x\", new int[]{1, 2}))");
        ObjectNode complete = steps.addObject();
        complete.put("name", "complete")
                .put("kind", "complete")
                .put("code", "Tokens.o")
                .put("cursor", 8);
        ObjectNode inspect = steps.addObject();
        inspect.put("name", "inspect")
                .put("kind", "inspect")
                .put("code", "Tokens.of")
                .put("cursor", 9);
        Path stepsFile = tmp.resolve("steps.json");
        JSON.writeValue(stepsFile.toFile(), steps);

        Path script = tmp.resolve("kernel_session.py");
        try (InputStream in = getClass().getResourceAsStream("kernel_session.py")) {
            Files.copy(in, script);
        }
        JupyterTools.Result r = JupyterTools.run(
                List.of("/usr/bin/python3", script.toString(), stepsFile.toString()),
                Map.of("JUPYTER_PATH", jupyterPath.toString()),
                900);
        String marker = "LOUPE_RESULTS ";
        int at = r.output().lastIndexOf(marker);
        assertTrue(r.exitCode() == 0 && at >= 0, "session failed:\n" + r.output());
        JsonNode res = JSON.readTree(
                r.output().substring(at + marker.length()).lines().findFirst().orElseThrow());

        System.out.printf(
                "kernel start to first cell result: %.2f s (kernel started in %.2f s)%n",
                res.path("first").path("since_start_s").asDouble(),
                res.path("started_s").asDouble());
        assertEquals("2", result(res, "first"));
        assertTrue(
                res.path("first").path("since_start_s").asDouble() < 30, "first result too slow: " + res.path("first"));

        String compile = error(res, "compileError");
        assertTrue(compile.contains("incompatible types") && compile.contains("line 2: int x = \"text\";"), compile);

        String ex = error(res, "exception");
        assertTrue(ex.contains("LoupeException: blocks.9.attn.hook_z: no such hook"), ex);

        assertTrue(error(res, "loop").contains("interrupted"), res.path("loop").toString());
        assertTrue(res.path("loop").path("seconds").asDouble() < 20, "interrupt too slow: " + res.path("loop"));
        assertEquals("5", result(res, "afterInterrupt"));
        assertTrue(
                error(res, "sleepInterrupted").contains("interrupted"),
                res.path("sleepInterrupted").toString());

        assertTrue(
                error(res, "timeout").contains("timeout of 1.0 s"),
                res.path("timeout").toString());
        assertEquals("still alive", result(res, "afterTimeout"));

        String printed = stdout(res, "hugeOutput");
        assertTrue(printed.length() < 220_000, "output not capped: " + printed.length() + " chars");
        assertTrue(
                printed.contains("output truncated") && printed.contains("bytes of stdout output were dropped"),
                printed.substring(Math.max(0, printed.length() - 500)));
        assertEquals("42", result(res, "hugeOutput"));
        assertEquals("42", result(res, "afterHugeOutput"));

        assertEquals("hello from a jar", result(res, "classpath"));
        assertEquals("Assertions", result(res, "maven"));

        JsonNode displayOutputs = res.path("display").path("outputs");
        assertEquals("display_data", displayOutputs.get(0).path("output_type").asText(), displayOutputs.toString());
        assertTrue(displayOutputs.get(0).path("data").path("text/html").asText().contains("Plotly.newPlot"));
        assertEquals("after\n", displayOutputs.get(1).path("text").asText());

        JsonNode table = res.path("table").path("outputs").get(0).path("data");
        assertTrue(table.path("text/html").asText().contains("<th>x</th>"), table.toString());

        JsonNode matches = res.path("complete").path("matches");
        assertTrue(matches.toString().contains("of("), res.path("complete").toString());
        assertEquals(7, res.path("complete").path("cursor_start").asInt());
        assertTrue(
                res.path("inspect").path("found").asBoolean(),
                res.path("inspect").toString());
        assertTrue(
                res.path("inspect").path("data").path("text/plain").asText().contains("Tokens.of"),
                res.path("inspect").toString());
    }

    private static ObjectNode step(ArrayNode steps, String name, String code) {
        ObjectNode s = steps.addObject();
        s.put("name", name).put("code", code);
        return s;
    }

    private static String result(JsonNode res, String step) {
        for (JsonNode o : res.path(step).path("outputs")) {
            if ("execute_result".equals(o.path("output_type").asText()))
                return o.path("data").path("text/plain").asText();
        }
        throw new AssertionError(step + ": no result: " + res.path(step));
    }

    private static String error(JsonNode res, String step) {
        assertEquals(
                "error", res.path(step).path("status").asText(), res.path(step).toString());
        for (JsonNode o : res.path(step).path("outputs")) {
            if ("error".equals(o.path("output_type").asText())) {
                StringBuilder s = new StringBuilder(
                        o.path("ename").asText() + ": " + o.path("evalue").asText() + "\n");
                o.path("traceback").forEach(l -> s.append(l.asText().replaceAll("\u001b\\[[0-9;]*m", ""))
                        .append('\n'));
                return s.toString();
            }
        }
        throw new AssertionError(step + ": no error output: " + res.path(step));
    }

    private static String stdout(JsonNode res, String step) {
        StringBuilder s = new StringBuilder();
        for (JsonNode o : res.path(step).path("outputs")) {
            if ("stream".equals(o.path("output_type").asText())
                    && "stdout".equals(o.path("name").asText()))
                s.append(o.path("text").asText());
        }
        return s.toString();
    }

    /** JUnit's version: it is in ~/.m2 after any build of Loupe, so %maven resolves it offline. */
    private static String junitVersion() {
        String v = org.junit.jupiter.api.Test.class.getPackage().getImplementationVersion();
        return v == null ? "5.10.2" : v;
    }

    /** A jar with loupetest.Hello, compiled here, for %classpath. */
    private static Path helloJar(Path tmp) throws IOException {
        Path src = tmp.resolve("src/loupetest/Hello.java");
        Files.createDirectories(src.getParent());
        Files.writeString(
                src,
                "package loupetest; public class Hello { public static String greet() { return \"hello from a jar\"; } }");
        Path classes = tmp.resolve("classes");
        Files.createDirectories(classes);
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(), src.toString());
        assertEquals(0, rc);
        Path jar = tmp.resolve("hello.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(new JarEntry("loupetest/Hello.class"));
            out.write(Files.readAllBytes(classes.resolve("loupetest/Hello.class")));
            out.closeEntry();
        }
        return jar;
    }
}
