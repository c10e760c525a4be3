package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.train.tasks.PlayText;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train --task text}, {@code tokenize --whole-file}, and tokenizers by path or zoo name. */
class TextCommandsTest {
    @TempDir
    Path tmp;

    static int[] ids(String jsonLine) throws Exception {
        JsonNode n = Json.mapper().readTree(jsonLine).get("ids");
        int[] ids = new int[n.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = n.get(i).intValue();
        return ids;
    }

    /** A few steps of the text recipe on a small corpus: one folder with the model, its tokenizer and its card. */
    @Test
    void trainTextWritesALoadableModelWithItsTokenizer() throws Exception {
        Path corpus = PlayText.write(tmp.resolve("data"), 300, 1);
        Path out = tmp.resolve("run");
        String done = CliRun.output(
                "train",
                "--task",
                "text",
                "--corpus",
                corpus.toString(),
                "--out",
                out.toString(),
                "--steps",
                "3",
                "--batch",
                "4");
        assertTrue(done.contains("final: loss=") && done.contains("val_loss="), done);
        assertTrue(done.contains("task text: play.txt"), done);
        Tokenizer tok = Tokenizers.load(out);
        assertInstanceOf(CharTokenizer.class, tok);
        assertEquals(tok.vocabSize(), Checkpoint.load(out).config().dVocab());
        String card = Files.readString(out.resolve("MODEL_CARD.md"));
        assertTrue(
                card.contains("./loupe train --task text --corpus " + corpus + " --out DIR --batch 4 --steps 3"), card);
        assertTrue(card.contains("## Validation loss") && card.contains("## Samples"), card);
        assertTrue(card.contains("# play-text"), card);
        // --prompt goes through the tokenizer in the model's folder
        String gen = CliRun.output(
                "generate",
                "--model",
                out.toString(),
                "--prompt",
                "ROMEO:\n",
                "--max-new-tokens",
                "5",
                "--temperature",
                "0");
        assertTrue(gen.startsWith("<|bos|>ROMEO:\n"), gen); // decoded as Hugging Face does, BOS shown
        assertEquals(5, CliRun.lastLine(gen).split(" ").length, gen);
    }

    @Test
    void trainTextRefusesWhatItCannotUse() throws Exception {
        String m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(new String[] {"train", "--task", "text", "--out", tmp.toString()}))
                .getMessage();
        assertTrue(m.contains("--task text needs --corpus FILE"), m);
        Path corpus = PlayText.write(tmp.resolve("data"), 10, 1);
        m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(new String[] {
                            "train", "--task", "modadd", "--corpus", corpus.toString(), "--out", tmp.toString()
                        }))
                .getMessage();
        assertTrue(m.contains("--corpus and --tokenizer are for --task text, not modadd"), m);
        Path missing = tmp.resolve("nope.txt");
        m = assertThrows(
                        LoupeException.class,
                        () -> Main.run(new String[] {
                            "train", "--task", "text", "--corpus", missing.toString(), "--out", tmp.toString()
                        }))
                .getMessage();
        assertTrue(m.contains(missing + ": cannot read"), m);
    }

    /** --whole-file: one line of ids for the whole text, newlines (and \r, and the last newline) included. */
    @Test
    void tokenizeWholeFileKeepsEveryCharacter() throws Exception {
        String text = "ROMEO:\nSweet night.\r\n\nJULIET:\nLove.\n";
        CharTokenizer tok = CharTokenizer.fromText(text);
        tok.save(tmp.resolve("tok"));
        Path file = tmp.resolve("in.txt");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        List<String> lines = CliRun.lines(
                "tokenize", "--tokenizer", tmp.resolve("tok").toString(), "--file", file.toString(), "--whole-file");
        assertEquals(1, lines.size(), lines.toString());
        int[] got = ids(lines.get(0));
        assertArrayEquals(tok.encode(text), got);
        assertEquals(text, tok.decode(got));
        lines = CliRun.lines(
                "tokenize",
                "--tokenizer",
                tmp.resolve("tok").toString(),
                "--file",
                file.toString(),
                "--whole-file",
                "--bos");
        assertEquals(tok.bosId().getAsInt(), ids(lines.get(0))[0]);
        // per line, as before: 5 lines, no newlines
        assertEquals(
                5,
                CliRun.lines("tokenize", "--tokenizer", tmp.resolve("tok").toString(), "--file", file.toString())
                        .size());
        // any tokenizer: GPT-2's keeps the newlines as tokens too
        Path gpt2 = SharedData.root() == null ? null : SharedData.root().resolve("tokenizers/gpt2");
        if (gpt2 != null && Files.isDirectory(gpt2)) {
            Tokenizer g = Tokenizers.load(gpt2);
            lines = CliRun.lines("tokenize", "--tokenizer", gpt2.toString(), "--file", file.toString(), "--whole-file");
            assertArrayEquals(g.encode(text), ids(lines.get(0)));
            assertEquals(text, g.decode(ids(lines.get(0))));
        }
    }
}
