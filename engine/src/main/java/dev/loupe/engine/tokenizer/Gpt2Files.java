package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * GPT-2's original tokenizer files: {@code vocab.json} (OpenAI's {@code encoder.json}, token → id)
 * and {@code merges.txt} ({@code vocab.bpe}: a {@code #version} line, then one merge "a b" per line
 * in rank order). The pipeline is byte-level BPE with the GPT-2 regex, no prefix space, and
 * {@code <|endoftext|>} as the one special token — what Hugging Face's GPT2TokenizerFast builds
 * from these files.
 */
public final class Gpt2Files {
    public static final String VOCAB = "vocab.json", MERGES = "merges.txt";
    static final String END_OF_TEXT = "<|endoftext|>";

    private Gpt2Files() {}

    public static HfTokenizer load(Path vocabJson, Path mergesTxt) {
        JsonFile json = JsonFile.read(vocabJson);
        Map<String, Integer> vocab = TokenizerJson.vocab(json.object(json.root, "(top level)"), json, "(top level)");
        List<String[]> merges = readMerges(mergesTxt);
        Bpe bpe = new Bpe(vocab, merges, Bpe.Options.BYTE_LEVEL, vocabJson + " + " + mergesTxt);
        List<AddedToken> added = new ArrayList<>();
        Integer eot = vocab.get(END_OF_TEXT);
        if (eot != null) added.add(AddedToken.special(eot, END_OF_TEXT));
        SpecialTokens specials =
                TokenizerConfig.resolve(vocabJson.toAbsolutePath().getParent(), vocab::get, -1);
        return new HfTokenizer(
                vocabJson.toString(),
                "byte-level BPE",
                null,
                new PreTokenizer.ByteLevel(false, true),
                bpe,
                new Decoder.ByteLevel(),
                added,
                specials);
    }

    static List<String[]> readMerges(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new LoupeException("cannot read " + file + ": " + e.getMessage(), e);
        }
        String text = Utf8.decodeStrict(bytes, file.toString());
        String[] lines = text.split("\n", -1);
        List<String[]> merges = new ArrayList<>(lines.length);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.startsWith("#version") || line.isEmpty()) continue;
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty())
                throw new LoupeException(
                        file + ": line " + (i + 1) + " must be two tokens separated by one space, got \""
                                + (line.length() > 60 ? line.substring(0, 57) + "..." : line) + "\"");
            merges.add(parts);
        }
        return merges;
    }
}
