package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command of the tree: generated help, unknown options, the exit status and stderr of a real JVM. */
class CommandTreeTest {

    /** Every command's path below {@code loupe} ({@code ["bench", "forward"]}, ...), groups included. */
    private static List<List<String>> commands() {
        List<List<String>> paths = new ArrayList<>();
        collect(Main.commandLine(), new ArrayList<>(), paths);
        return paths;
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> out) {
        for (Map.Entry<String, CommandLine> e : cl.getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) continue;
            List<String> p = new ArrayList<>(path);
            p.add(e.getKey());
            out.add(p);
            collect(e.getValue(), p, out);
        }
    }

    private static String[] argv(List<String> path, String... more) {
        List<String> a = new ArrayList<>(path);
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void everyCommandPrintsItsUsageOnHelp() {
        List<List<String>> all = commands();
        for (String name : List.of("demo", "info", "logits", "generate", "tokenize", "train", "harvest", "lab"))
            assertTrue(all.contains(List.of(name)), name + " is registered");
        for (List<String> sub : List.of(
                List.of("bench", "forward"),
                List.of("bench", "load"),
                List.of("bench", "train"),
                List.of("store", "info"),
                List.of("store", "verify"),
                List.of("store", "export"),
                List.of("store", "bench"),
                List.of("store", "bench-export"),
                List.of("kernel"))) assertTrue(all.contains(sub), sub + " is registered");
        for (List<String> path : all) {
            String usage = "Usage: loupe " + String.join(" ", path);
            assertTrue(CliRun.output(argv(path, "--help")).startsWith(usage), path + " --help");
            if (path.size() == 1) assertTrue(CliRun.output("help", path.get(0)).startsWith(usage), "help " + path);
        }
    }

    @Test
    void anUnknownOptionIsNamedByEveryCommand() {
        for (List<String> path : commands()) {
            LoupeException e = assertThrows(LoupeException.class, () -> Main.run(argv(path, "--frobnicate")));
            assertTrue(e.getMessage().startsWith(String.join(" ", path) + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("--frobnicate"), e.getMessage());
        }
    }

    @Test
    void theCompletionScriptCompletesSubcommandsAndOptionsInBash(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        String script = CliRun.output("completion");
        assertTrue(script.contains("complete -F _complete_loupe"), script.substring(0, 200));
        java.nio.file.Path file = tmp.resolve("loupe-completion.bash");
        java.nio.file.Files.writeString(file, script);
        // As bash would call it for "loupe bench f<TAB>" and "loupe info --mo<TAB>".
        String probe = "source '" + file + "' 2>/dev/null\n"
                + "COMP_WORDS=(loupe bench f); COMP_CWORD=2; COMP_LINE='loupe bench f'; COMP_POINT=${#COMP_LINE}\n"
                + "_complete_loupe loupe f bench 2>/dev/null; echo \"1:${COMPREPLY[*]}\"\n"
                + "COMP_WORDS=(loupe info --mo); COMP_CWORD=2; COMP_LINE='loupe info --mo'; COMP_POINT=${#COMP_LINE}\n"
                + "_complete_loupe loupe --mo info 2>/dev/null; echo \"2:${COMPREPLY[*]}\"\n";
        Process bash = new ProcessBuilder("bash", "-c", probe)
                .redirectErrorStream(true)
                .start();
        String out = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, bash.waitFor(), out);
        assertTrue(out.contains("1:forward\n"), out);
        assertTrue(out.contains("2:--model\n"), out);
    }

    @Test
    void aRealRunExitsTwoWithOneLineAndPrintsNoLoggingNoise() throws Exception {
        Process bad = CliRun.process(List.of(), "info", "--model", "attn-only-2l", "--frobnicate")
                .start();
        String badErr = new String(bad.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, bad.waitFor(), badErr);
        assertEquals("loupe: info: unknown option --frobnicate (known: --help, --json, --model, --version)\n", badErr);

        Process ok =
                CliRun.process(List.of(), "info", "--model", "attn-only-2l").start();
        String out = new String(ok.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(ok.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, ok.waitFor(), err);
        assertTrue(out.contains("parameters   272,640"), out);
        // ND4J logs through SLF4J: without one binding, SLF4J prints warnings; with one, INFO lines.
        assertEquals("", err, "stderr of ./loupe info");
        assertFalse(out.contains("SLF4J") || out.contains("INFO"), out);
    }
}
