package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Utf8;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./loupe tokenize}: one {@code {"ids":[...]}} JSON line per line of a text file, or with
 * {@code --whole-file} one line for the whole file, newlines included.
 */
@Command(
        name = "tokenize",
        mixinStandardHelpOptions = true,
        description = {
            "Tokenizes each line of --file; prints one {\"ids\":[...]} JSON line per line.",
            "With --whole-file, one {\"ids\":[...]} line for the whole file, its newlines included."
        })
final class TokenizeCommand implements Callable<Integer> {
    @Option(
            names = "--tokenizer",
            required = true,
            paramLabel = "PATH",
            description = "a folder, tokenizer.json, vocab.json (merges.txt beside it), llama2.c tokenizer.bin,"
                    + " char_tokenizer.json, or an embedded text model (shakespeare-char)")
    Path tokenizer;

    @Option(names = "--file", required = true, paramLabel = "F", description = "UTF-8 text, one input per line")
    Path file;

    @Option(names = "--bos", description = "prepend the tokenizer's BOS to each line")
    boolean bos;

    @Option(names = "--allow-special", description = "encode special tokens written in the text as themselves")
    boolean allowSpecial;

    @Option(
            names = "--whole-file",
            description = "the whole file as one text (newlines, \\r and a final newline included): one line of ids")
    boolean wholeFile;

    /** Lines end at \n (a \r before it is dropped); the file's last newline does not start another line. */
    @Override
    public Integer call() {
        Tokenizer tok = ModelTokenizer.load(tokenizer);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new LoupeException("--file " + file + ": cannot read: " + e.getMessage(), e);
        }
        String text = Utf8.decodeStrict(bytes, file.toString());
        if (wholeFile) {
            System.out.println(Json.write(Map.of("ids", ids(tok, text))));
            return 0;
        }
        if (text.isEmpty()) return 0;
        String[] lines = (text.endsWith("\n") ? text.substring(0, text.length() - 1) : text).split("\n", -1);
        for (String line : lines) {
            if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
            System.out.println(Json.write(Map.of("ids", ids(tok, line))));
        }
        return 0;
    }

    private int[] ids(Tokenizer tok, String text) {
        int[] body = tok.encode(text, allowSpecial);
        if (!bos) return body;
        int[] ids = new int[body.length + 1];
        ids[0] = tok.bosForPrepending();
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }
}
