package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainAndDemoCommandTest {
    @TempDir
    Path tmp;

    @Test
    void trainWritesModelHistoryAndCardAndResumes() throws Exception {
        Path out = tmp.resolve("run");
        String stopped = CliRun.output(
                "train",
                "--task",
                "modadd",
                "--out",
                out.toString(),
                "--steps",
                "4",
                "--batch",
                "64",
                "--eval-every",
                "2",
                "--checkpoint-every",
                "2",
                "--stop-after",
                "2");
        assertTrue(stopped.contains("stopped after step 2 of 4; run the same command again to resume"), stopped);
        String done = CliRun.output(
                "train",
                "--task",
                "modadd",
                "--out",
                out.toString(),
                "--steps",
                "4",
                "--batch",
                "64",
                "--eval-every",
                "2",
                "--checkpoint-every",
                "2",
                "--shards",
                "3");
        assertTrue(done.contains("final: loss=") && done.contains("test_accuracy="), done);
        assertEquals(3, Checkpoint.load(out).config().nCtx());
        List<String> history = Files.readAllLines(out.resolve("history.csv"));
        assertEquals(5, history.size(), "header + 4 steps");
        assertTrue(
                history.get(0).startsWith("step,lr,loss,grad_norm,train_loss,train_accuracy,test_loss,test_accuracy"),
                history.get(0));
        String card = Files.readString(out.resolve("MODEL_CARD.md"));
        assertTrue(
                card.contains(
                        "./loupe train --task modadd --out DIR --batch 64 --checkpoint-every 2 --eval-every 2 --shards 3 --steps 4"),
                card);
        assertTrue(card.contains("| test_accuracy |"), card);
        // this process trained steps 3-4 only, and the card's time says so
        assertTrue(card.contains(" for steps 3-4 (resumed from the step-2 checkpoint;"), card);
    }

    @Test
    void trainRefusesBadOptions() {
        String m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(new String[] {"train", "--task", "sorting", "--out", tmp.toString()}))
                .getMessage();
        assertTrue(m.contains("unknown task 'sorting'; expected one of induction, modadd"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(
                                new String[] {"train", "--task", "induction", "--out", tmp.toString(), "--lr", "-1"}))
                .getMessage();
        assertTrue(m.contains("lr = -1.0 is invalid"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(
                                new String[] {"train", "--task", "modadd", "--out", tmp.toString(), "--batch", "99999"
                                }))
                .getMessage();
        assertTrue(m.contains("batch size 99999 is larger than the training set"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(
                                new String[] {"train", "--task", "modadd", "--out", tmp.toString(), "--shards", "0"}))
                .getMessage();
        assertTrue(m.contains("--shards must be >= 1, got 0"), m);
    }

    @Test
    void demoPrintsScoresAndWritesTheReport() throws Exception {
        Path out = tmp.resolve("demo");
        String printed = CliRun.output("demo", "--out", out.toString(), "--batch", "4");
        assertTrue(printed.contains("previous_token") && printed.contains("induction"), printed);
        assertTrue(printed.contains("Top induction head: L1H"), printed);
        assertTrue(
                printed.contains(
                        "wrote the report to " + out.resolve("index.html").toAbsolutePath()),
                printed);
        String html = Files.readString(out.resolve("index.html"));
        assertEquals(3, html.split("class=\"loupe-plot\"", -1).length - 1, "two heatmaps and the loss curve");
        assertTrue(html.contains("window.Plotly")
                && html.contains("Induction head L1H")
                && html.contains("Previous-token head L0H"));
        assertTrue(!html.contains("<script src"), "plotly.js is inlined: no external scripts");
    }
}
