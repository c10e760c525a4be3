package dev.loupe.engine;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The read-only reference data in {@code <repo root>/../shared}; tests skip when it is absent. */
public final class SharedData {
    private SharedData() {}

    /** One golden line: the text and the reference ids. */
    public record Golden(int line, String text, int[] ids) {}

    /**
     * {@code -Dloupe.shared} when set, else {@code ../shared} next to the repository root (the folder
     * above the one holding engine/pom.xml); null when there is none.
     */
    public static Path root() {
        String prop = System.getProperty("loupe.shared");
        if (prop != null) return Path.of(prop);
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("engine").resolve("pom.xml"))) dir = dir.getParent();
        return dir == null || dir.getParent() == null ? null : dir.getParent().resolve("shared");
    }

    /** A file under shared/, or the test is skipped with a message saying which file is missing. */
    public static Path require(String relative) {
        Path root = root();
        Path p = root == null ? null : root.resolve(relative);
        assumeTrue(
                p != null && Files.exists(p),
                "reference data " + (p == null ? "../shared/" + relative : p) + " is absent; skipping");
        return p;
    }

    public static List<Golden> golden(Path jsonl) {
        ObjectMapper json = new ObjectMapper();
        try {
            List<Golden> out = new ArrayList<>();
            List<String> lines = Files.readAllLines(jsonl, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).isBlank()) continue;
                JsonNode n = json.readTree(lines.get(i));
                int[] ids = new int[n.get("ids").size()];
                for (int k = 0; k < ids.length; k++)
                    ids[k] = n.get("ids").get(k).intValue();
                out.add(new Golden(i + 1, n.get("text").textValue(), ids));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
