package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.JsonSlot;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Feeds the loaders thousands of corrupted tokenizer files — tokenizer.json of each kind, vocab.json
 * + merges.txt, tokenizer_config.json, tokenizer.bin — truncated, with flipped bytes, changed types, deleted keys. Each
 * must either load (and then encode, decode and batch without surprises) or fail with a
 * {@link LoupeException} naming the file; any other throwable fails the test with what is needed
 * to reproduce it. Seeded and bounded: {@code -Dloupe.fuzz.seed=N}, {@code -Dloupe.fuzz.cases=N}
 * (default 20000 per format) and {@code -Dloupe.fuzz.seconds=S} (default 4, shared by the formats;
 * each format still runs at least 150 cases).
 */
class TokenizerFuzzTest {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Every format gets at least this many cases, however slow the machine. */
    private static final int MIN_CASES = 150;

    private static final String[] TYPES = {
        "BPE",
        "Unigram",
        "WordPiece",
        "Sequence",
        "ByteLevel",
        "Split",
        "Metaspace",
        "Digits",
        "Prepend",
        "Replace",
        "NFC",
        "NFKD",
        "Lowercase",
        "Strip",
        "ByteFallback",
        "Fuse",
        "TemplateProcessing",
        "Isolated",
        "Removed",
        "MergedWithNext",
        "Contiguous",
        "always",
        "first",
        "never",
        "",
        "▁",
        "Ġ",
        "<s>",
        "<0x41>",
        "\\s+",
        "(",
        "[",
        "\uD800"
    };
    private static final String[] TEXTS = {
        "Hello world",
        " ab abc! abccc",
        "<eot><s></s><|begin_of_text|>x",
        "a€\n\n  12345 I'M ok",
        "",
        "   ",
        "\u0000\u2581▁▁"
    };

    @TempDir
    Path dir;

    private record Format(String name, String file, byte[] base, boolean json) {}

    @Test
    void corruptedTokenizerFilesLoadOrFailWithLoupeException() throws IOException {
        long seed = Long.getLong("loupe.fuzz.seed", 0x70C_E5EEDL);
        int maxCases = Integer.getInteger("loupe.fuzz.cases", 20_000);
        long totalNanos = Long.getLong("loupe.fuzz.seconds", 4L) * 1_000_000_000L;
        List<Format> formats = List.of(
                new Format(
                        "byte-level tokenizer.json", "tokenizer.json", json(HandWrittenTokenizers.byteLevel()), true),
                new Format(
                        "sentencepiece tokenizer.json",
                        "tokenizer.json",
                        json(HandWrittenTokenizers.sentencePiece()),
                        true),
                new Format("llama3 tokenizer.json", "tokenizer.json", json(HandWrittenTokenizers.llama3()), true),
                new Format("vocab.json", "vocab.json", smallVocab(), true),
                new Format(
                        "merges.txt",
                        "merges.txt",
                        "#version: 0.2\na b\nab c\nĠ a\nĠa b\n".getBytes(StandardCharsets.UTF_8),
                        false),
                new Format("tokenizer_config.json", "tokenizer_config.json", tokenizerConfig(), true),
                new Format(
                        "tokenizer.bin",
                        "tokenizer.bin",
                        TokenizersLoadTest.TokenizerBin.build(
                                new String[] {" ", "a", " a", "ab", " ab"}, new float[] {-9, -1, -2, -3, -4}),
                        false));
        Random master = new Random(seed);
        StringBuilder summary = new StringBuilder();
        for (int f = 0; f < formats.size(); f++) {
            Format format = formats.get(f);
            long deadline = System.nanoTime() + totalNanos / formats.size();
            int cases = 0, accepted = 0;
            for (; cases < maxCases && (cases < MIN_CASES || System.nanoTime() < deadline); cases++) {
                long caseSeed = master.nextLong();
                Random rnd = new Random(caseSeed);
                List<String> log = new ArrayList<>();
                byte[] mutated = mutate(format, rnd, log);
                Path caseDir = Files.createDirectories(dir.resolve(f + "-" + (cases % 2)));
                writeCompanions(format, caseDir);
                Path file = Files.write(caseDir.resolve(format.file), mutated);
                Tokenizer tok;
                try {
                    tok = Tokenizers.load(format.file.equals("tokenizer_config.json") ? caseDir : file);
                } catch (LoupeException expected) {
                    if (!expected.getMessage().contains(caseDir.toString()))
                        fail(reproduce(format, seed, cases, caseSeed, log) + ": message does not name the file: "
                                + expected.getMessage());
                    continue;
                } catch (Throwable t) {
                    throw new AssertionError(reproduce(format, seed, cases, caseSeed, log) + " (loading): " + t, t);
                }
                accepted++;
                try {
                    exercise(tok, rnd);
                } catch (Throwable t) {
                    throw new AssertionError(reproduce(format, seed, cases, caseSeed, log) + " (using): " + t, t);
                }
            }
            summary.append(String.format(
                    "  %s: %d cases (%d loaded, %d rejected)%n", format.name, cases, accepted, cases - accepted));
            assertTrue(
                    accepted > 0 && accepted < cases,
                    format.name + ": mutations should give both valid and invalid files (" + accepted + " of " + cases
                            + " loaded)");
        }
        System.out.print("tokenizer fuzz, seed " + seed + ":\n" + summary);
    }

    /**
     * Encodes, decodes and batches. A LoupeException is a legitimate answer to each step (a
     * tokenizer without BOS, an id in a hole of the vocabulary, invalid UTF-8 input); nothing else is.
     */
    private static void exercise(Tokenizer tok, Random rnd) {
        List<String> texts = new ArrayList<>(Arrays.asList(TEXTS));
        texts.add(RoundTripTest.randomText(rnd));
        for (String t : texts) {
            for (boolean special : new boolean[] {false, true}) {
                tolerate(() -> {
                    int[] ids = tok.encode(t, special);
                    tolerate(() -> tok.decode(ids));
                    tolerate(() -> tok.decode(ids, true));
                    tolerate(() -> tok.toStrTokens(ids));
                });
            }
            tolerate(() -> tok.toTokens(t, true));
        }
        tolerate(() -> tok.encode(new byte[] {'a', (byte) 0xC0}, true));
        for (int i = 0; i < 5; i++) {
            int id = rnd.nextInt(tok.vocabSize() + 2) - 1;
            tolerate(() -> tok.tokenString(id));
            tolerate(() -> tok.decode(new int[] {id}));
        }
        boolean bos = rnd.nextBoolean();
        tolerate(() ->
                tok.encodeBatch(List.of("ab", "abc abc"), bos, Tokens.Side.LEFT).flat());
        tok.bosId();
        tok.eosId();
        tok.padId();
    }

    private static void tolerate(Runnable step) {
        try {
            step.run();
        } catch (LoupeException fine) {
            // a clear refusal is an allowed outcome
        }
    }

    private static String reproduce(Format f, long seed, int index, long caseSeed, List<String> log) {
        return f.name + " fuzz case " + index + " (-Dloupe.fuzz.seed=" + seed + ", case seed " + caseSeed
                + ", mutations " + log + ")";
    }

    private static byte[] json(ObjectNode n) {
        try {
            return HandWrittenTokenizers.JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] smallVocab() {
        ObjectNode v = NODES.objectNode();
        String[] tokens = {"a", "b", "c", "Ġ", "ab", "abc", "Ġa", "Ġab", "!", "<|endoftext|>"};
        for (int i = 0; i < tokens.length; i++) v.put(tokens[i], i);
        return json(v);
    }

    private static byte[] tokenizerConfig() {
        ObjectNode c = NODES.objectNode();
        c.put("add_bos_token", true);
        c.put("bos_token", "<s>");
        c.putObject("eos_token")
                .put("__type", "AddedToken")
                .put("content", "</s>")
                .put("lstrip", false);
        c.putNull("pad_token");
        c.put("model_max_length", 4096);
        return json(c);
    }

    /** The unmutated files that go with the mutated one. */
    private void writeCompanions(Format f, Path caseDir) throws IOException {
        if (Files.exists(caseDir.resolve("companion-written"))) return;
        Files.createFile(caseDir.resolve("companion-written"));
        if (f.file.equals("tokenizer_config.json"))
            Files.write(caseDir.resolve("tokenizer.json"), json(HandWrittenTokenizers.sentencePiece()));
        if (f.file.equals("vocab.json"))
            Files.write(
                    caseDir.resolve("merges.txt"),
                    "#version: 0.2\na b\nab c\nĠ a\nĠa b\n".getBytes(StandardCharsets.UTF_8));
        if (f.file.equals("merges.txt")) Files.write(caseDir.resolve("vocab.json"), smallVocab());
    }

    // ---------------------------------------------------------------- mutations

    private static byte[] mutate(Format f, Random rnd, List<String> log) {
        byte[] current = f.base.clone();
        int rounds = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(3) : 0);
        for (int i = 0; i < rounds; i++) {
            int kind = rnd.nextInt(f.json ? 8 : 5);
            current = switch (kind) {
                case 0 -> truncate(current, rnd, log);
                case 1 -> flipBytes(current, rnd, log);
                case 2 -> f.name.equals("tokenizer.bin") ? intField(current, rnd, log) : textEdit(current, rnd, log);
                case 3 -> appendBytes(current, rnd, log);
                case 4 -> f.name.equals("tokenizer.bin") ? intField(current, rnd, log) : textEdit(current, rnd, log);
                default -> jsonEdit(current, rnd, log);
            };
        }
        return current;
    }

    private static byte[] truncate(byte[] b, Random rnd, List<String> log) {
        int len = rnd.nextInt(b.length + 1);
        log.add("truncate " + len);
        return Arrays.copyOf(b, len);
    }

    private static byte[] flipBytes(byte[] b, Random rnd, List<String> log) {
        byte[] out = b.clone();
        for (int i = 1 + rnd.nextInt(4); i > 0 && out.length > 0; i--) {
            int pos = rnd.nextInt(out.length);
            byte v = (byte) (rnd.nextBoolean() ? out[pos] ^ (1 << rnd.nextInt(8)) : rnd.nextInt(256));
            log.add("byte[" + pos + "]=" + v);
            out[pos] = v;
        }
        return out;
    }

    private static byte[] appendBytes(byte[] b, Random rnd, List<String> log) {
        byte[] extra = new byte[1 + rnd.nextInt(16)];
        rnd.nextBytes(extra);
        log.add("append " + extra.length);
        byte[] out = Arrays.copyOf(b, b.length + extra.length);
        System.arraycopy(extra, 0, out, b.length, extra.length);
        return out;
    }

    /** Overwrites an int32 of a tokenizer.bin: max_token_length or one token's length. */
    private static byte[] intField(byte[] b, Random rnd, List<String> log) {
        if (b.length < 4) return b;
        byte[] out = b.clone();
        ByteBuffer buf = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        int pos = 0;
        if (rnd.nextInt(3) > 0) { // walk to a token's length field
            int target = rnd.nextInt(270), at = 4;
            for (int t = 0; t < target && at + 8 <= out.length; t++) {
                int len = buf.getInt(at + 4);
                if (len < 0 || at + 8L + len > out.length) break;
                at += 8 + len;
            }
            if (at + 8 <= out.length) pos = at + (rnd.nextBoolean() ? 4 : 0);
        }
        int[] values = {
            0,
            1,
            -1,
            7,
            16,
            17,
            255,
            65536,
            65537,
            Integer.MAX_VALUE,
            Integer.MIN_VALUE,
            Float.floatToIntBits(Float.NaN),
            Float.floatToIntBits(-1e10f),
            rnd.nextInt()
        };
        int v = values[rnd.nextInt(values.length)];
        if (pos + 4 <= out.length) buf.putInt(pos, v);
        log.add("int32@" + pos + "=" + v);
        return out;
    }

    private static byte[] textEdit(byte[] b, Random rnd, List<String> log) {
        StringBuilder s = new StringBuilder(new String(b, StandardCharsets.UTF_8));
        if (s.length() == 0) return b;
        int pos = rnd.nextInt(s.length());
        if (rnd.nextBoolean()) {
            int end = Math.min(s.length(), pos + 1 + rnd.nextInt(12));
            log.add("delete [" + pos + "," + end + ")");
            s.delete(pos, end);
        } else {
            String alphabet = "{}[],:\" 0123456789-.eEabĠ▁\\u\n#";
            StringBuilder ins = new StringBuilder();
            for (int i = rnd.nextInt(5); i >= 0; i--) ins.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            log.add("insert '" + ins + "' at " + pos);
            s.insert(pos, ins);
        }
        return s.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] jsonEdit(byte[] b, Random rnd, List<String> log) {
        JsonNode root;
        try {
            root = HandWrittenTokenizers.JSON.readTree(b);
        } catch (IOException e) {
            return flipBytes(b, rnd, log); // an earlier round broke the JSON already
        }
        if (root == null || !root.isContainerNode() || root.isEmpty()) return b;
        List<JsonSlot> slots = JsonSlot.all(root, 8);
        if (slots.isEmpty()) return b;
        JsonSlot slot = slots.get(rnd.nextInt(slots.size()));
        switch (rnd.nextInt(5)) {
            case 0 -> {
                log.add("remove " + slot);
                slot.remove();
            }
            case 1 -> {
                JsonNode v = randomValue(rnd, 0);
                log.add("set " + slot + " = " + JsonSlot.abbreviate(v, 60));
                slot.set(v);
            }
            case 2 -> {
                // another type name where a string was
                JsonNode v = NODES.textNode(TYPES[rnd.nextInt(TYPES.length)]);
                log.add("type " + slot + " = " + v);
                slot.set(v);
            }
            case 3 -> {
                // a number nudged, negated or made huge
                JsonNode old = slot.get();
                long n = old.isNumber() ? old.asLong() : 0;
                long[] choices = {n + 1, n - 1, -n, -1, 0, 1L << 22, 1L << 40, Long.MAX_VALUE, 3_000_000};
                long v = choices[rnd.nextInt(choices.length)];
                log.add("number " + slot + " = " + v);
                slot.set(rnd.nextInt(5) == 0 ? NODES.numberNode(v + 0.5) : NODES.numberNode(v));
            }
            default -> {
                // wrap in containers
                JsonNode v = slot.get();
                int depth = 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 400);
                for (int i = 0; i < depth; i++)
                    v = rnd.nextBoolean()
                            ? NODES.arrayNode().add(v)
                            : NODES.objectNode().set("type", v);
                log.add("nest " + slot + " " + depth + " deep");
                slot.set(v);
            }
        }
        return json(root instanceof ObjectNode o ? o : NODES.objectNode().set("root", root));
    }

    private static JsonNode randomValue(Random rnd, int depth) {
        return switch (rnd.nextInt(depth > 1 ? 4 : 6)) {
            case 0 -> NODES.numberNode(rnd.nextInt(300) - 5);
            case 1 -> NODES.textNode(TYPES[rnd.nextInt(TYPES.length)]);
            case 2 -> rnd.nextBoolean() ? NODES.nullNode() : NODES.booleanNode(rnd.nextBoolean());
            case 3 -> NODES.textNode(rnd.nextBoolean() ? "" : "välue\n\"\\ ab");
            case 4 -> {
                ArrayNode a = NODES.arrayNode();
                for (int i = rnd.nextInt(4); i > 0; i--) a.add(randomValue(rnd, depth + 1));
                yield a;
            }
            default -> {
                ObjectNode o = NODES.objectNode();
                o.put("type", TYPES[rnd.nextInt(TYPES.length)]);
                for (int i = rnd.nextInt(3); i > 0; i--) o.set("k" + i, randomValue(rnd, depth + 1));
                yield o;
            }
        };
    }
}
