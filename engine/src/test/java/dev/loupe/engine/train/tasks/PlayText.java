package dev.loupe.engine.train.tasks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** A small play-like corpus for text-training tests: speakers' names in capitals, lines of words. */
public final class PlayText {
    private PlayText() {}

    /** {@code lines} speeches drawn from a few names and words with {@code seed}. */
    public static String of(int lines, long seed) {
        String[] names = {"ROMEO", "JULIET", "NURSE", "FRIAR"};
        String[] words = {"the", "love", "night", "sweet", "thou", "art", "my", "and", "light", "death", "fair", "day"};
        SplittableRandom rng = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines; i++) {
            sb.append(names[rng.nextInt(names.length)]).append(":\n");
            int n = 3 + rng.nextInt(5);
            for (int w = 0; w < n; w++) {
                String word = words[rng.nextInt(words.length)];
                sb.append(w == 0 ? Character.toUpperCase(word.charAt(0)) + word.substring(1) : word)
                        .append(w + 1 < n ? " " : ".\n\n");
            }
        }
        return sb.toString();
    }

    /** Writes {@link #of} to {@code dir/play.txt} (creating {@code dir}); returns the file. */
    public static Path write(Path dir, int lines, long seed) throws IOException {
        Path f = Files.createDirectories(dir).resolve("play.txt");
        Files.writeString(f, of(lines, seed), StandardCharsets.UTF_8);
        return f;
    }
}
