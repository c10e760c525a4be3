package dev.loupe.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * One token per character, as nanoGPT's {@code shakespeare_char}: the vocabulary is the sorted set
 * of the corpus's characters (Unicode code points, sorted by value, as Python's
 * {@code sorted(set(text))}), so the ids are nanoGPT's ids, followed by one special BOS token
 * {@code <|bos|>} (id = number of characters) that Loupe's text training puts at the start of every
 * window, so that {@link #toTokens} (which prepends it, as TransformerLens does) gives the model what it
 * was trained on.
 *
 * <p>{@code decode(encode(s)).equals(s)} for every text made of the vocabulary's characters. A
 * character outside the vocabulary is an error naming it and its place (there is no unknown token:
 * a model trained on the corpus has never seen one). Saved as {@code char_tokenizer.json} beside
 * the model's weights; {@link Tokenizers#load} finds it there.
 */
public final class CharTokenizer implements Tokenizer {
    public static final String FILE = "char_tokenizer.json", FORMAT = "loupe-char-tokenizer", BOS = "<|bos|>";
    static final int VERSION = 1;

    private final int[] codePoints; // sorted when built from text; id = index
    private final int[] sortedCodePoints; // for lookup
    private final int[] idOfSorted;
    private final String source;

    private CharTokenizer(int[] codePoints, String source) {
        this.codePoints = codePoints;
        this.source = source;
        Integer[] order = new Integer[codePoints.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Integer.compare(codePoints[a], codePoints[b]));
        sortedCodePoints = new int[codePoints.length];
        idOfSorted = new int[codePoints.length];
        for (int i = 0; i < order.length; i++) {
            sortedCodePoints[i] = codePoints[order[i]];
            idOfSorted[i] = order[i];
        }
        for (int i = 1; i < sortedCodePoints.length; i++)
            if (sortedCodePoints[i] == sortedCodePoints[i - 1])
                throw new LoupeException(
                        source + ": the character " + describe(sortedCodePoints[i]) + " is listed twice");
    }

    /** The vocabulary of {@code text}: its distinct characters, sorted by code point. */
    public static CharTokenizer fromText(String text) {
        return fromText(text, "the characters of a text of " + text.length() + " chars");
    }

    /** As {@link #fromText(String)}; {@code source} (e.g. "the characters of corpus.txt") appears in errors. */
    public static CharTokenizer fromText(String text, String source) {
        Utf8.requireUnicode(text);
        int[] distinct = text.codePoints().distinct().sorted().toArray();
        if (distinct.length == 0) throw new LoupeException(source + ": cannot build a vocabulary from empty text");
        return new CharTokenizer(distinct, source);
    }

    /** Reads a {@code char_tokenizer.json}. */
    public static CharTokenizer load(Path file) {
        JsonFile json = JsonFile.read(file);
        ObjectNode root = json.object(json.root, "");
        String format = json.optString(root, "format", "");
        if (!FORMAT.equals(format))
            throw json.error("", "is not a Loupe character tokenizer (\"format\" must be \"" + FORMAT + "\")");
        int version = json.integer(json.required(root, "version", ""), "version", 1, Integer.MAX_VALUE);
        if (version != VERSION) throw json.error("version", "is " + version + ", this Loupe reads version " + VERSION);
        String bos = json.optString(root, "bos_token", "");
        if (!BOS.equals(bos)) throw json.error("bos_token", "must be \"" + BOS + "\", got " + bos);
        ArrayNode chars = json.array(json.required(root, "chars", ""), "chars");
        if (chars.isEmpty()) throw json.error("chars", "is empty");
        int[] cps = new int[chars.size()];
        for (int i = 0; i < cps.length; i++) cps[i] = json.character(chars.get(i), "chars[" + i + "]");
        return new CharTokenizer(cps, file.toString());
    }

    /** Writes {@code dir/char_tokenizer.json} (atomically); returns the file. */
    public Path save(Path dir) {
        ObjectMapper mapper = Json.mapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", VERSION);
        root.put("bos_token", BOS);
        ArrayNode chars = root.putArray("chars");
        for (int cp : codePoints) chars.add(new String(Character.toChars(cp)));
        Path file = dir.resolve(FILE);
        try {
            Files.createDirectories(dir);
            byte[] bytes = mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
            AtomicFileWriter.write(file, ch -> ch.write(ByteBuffer.wrap(bytes)));
        } catch (IOException e) {
            throw new LoupeException("cannot write " + file + ": " + e.getMessage(), e);
        }
        return file;
    }

    /** True when {@code file} is a JSON object whose "format" says it is a character tokenizer. */
    static boolean isCharTokenizerFile(Path file) {
        JsonNode root = JsonFile.read(file).root;
        return root.isObject() && FORMAT.equals(root.path("format").asText());
    }

    /** The number of characters in the vocabulary (the BOS comes after them). */
    public int characters() {
        return codePoints.length;
    }

    /** The id of a character, or -1 when it is not in the vocabulary. */
    public int idOf(int codePoint) {
        int i = Arrays.binarySearch(sortedCodePoints, codePoint);
        return i < 0 ? -1 : idOfSorted[i];
    }

    @Override
    public int[] encode(String text, boolean allowSpecial) {
        Utf8.requireUnicode(text);
        int[] ids = new int[text.length()];
        int n = 0, line = 1, column = 1, index = 0;
        for (int i = 0; i < text.length(); ) {
            if (allowSpecial && text.startsWith(BOS, i)) {
                ids[n++] = codePoints.length;
                i += BOS.length();
                index += BOS.length();
                column += BOS.length();
                continue;
            }
            int cp = text.codePointAt(i);
            int id = idOf(cp);
            if (id < 0)
                throw new LoupeException("character " + describe(cp) + " at character index " + index + " (line " + line
                        + ", column " + column + ") is not in the vocabulary of " + codePoints.length
                        + " characters (" + source + ")");
            ids[n++] = id;
            i += Character.charCount(cp);
            index++;
            if (cp == '\n') {
                line++;
                column = 1;
            } else column++;
        }
        return n == ids.length ? ids : Arrays.copyOf(ids, n);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int id : ids) {
            if (id == codePoints.length) {
                if (!skipSpecial) sb.append(BOS);
            } else sb.appendCodePoint(codePoints[check(id)]);
        }
        return sb.toString();
    }

    @Override
    public String tokenString(int id) {
        return id == codePoints.length ? BOS : new String(Character.toChars(codePoints[check(id)]));
    }

    private int check(int id) {
        if (id < 0 || id > codePoints.length)
            throw new LoupeException(
                    "token id " + id + " is outside the vocabulary 0.." + codePoints.length + " (" + source + ")");
        return id;
    }

    @Override
    public int vocabSize() {
        return codePoints.length + 1;
    }

    @Override
    public OptionalInt bosId() {
        return OptionalInt.of(codePoints.length);
    }

    @Override
    public OptionalInt eosId() {
        return OptionalInt.empty();
    }

    @Override
    public OptionalInt padId() {
        return OptionalInt.empty();
    }

    /** {@code 'a' (U+0061)}, {@code '\n' (U+000A)}: printable in an error message. */
    static String describe(int cp) {
        String shown = Character.isISOControl(cp) || Character.isWhitespace(cp)
                ? switch (cp) {
                    case '\n' -> "\\n";
                    case '\r' -> "\\r";
                    case '\t' -> "\\t";
                    case ' ' -> " ";
                    default -> "";
                }
                : new String(Character.toChars(cp));
        return (shown.isEmpty() ? "" : "'" + shown + "' ") + String.format("(U+%04X)", cp);
    }

    @Override
    public String toString() {
        return "CharTokenizer[" + codePoints.length + " characters + " + BOS + "]";
    }
}
