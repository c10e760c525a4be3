package dev.loupe.engine.io;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.JsonSlot;
import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Feeds the reader thousands of corrupted variants of a valid file. Every one must either open and
 * read cleanly or fail with a {@link LoupeException}; any other throwable (NullPointerException,
 * IndexOutOfBounds, OutOfMemoryError, ND4J exceptions, StackOverflowError...) fails the test with
 * the seed and case needed to reproduce it.
 *
 * <p>Seeded and bounded: {@code -Dloupe.fuzz.seed=N} (default fixed), {@code -Dloupe.fuzz.cases=N}
 * (default 20000) and {@code -Dloupe.fuzz.seconds=S} (default 5) — whichever limit comes first.
 */
class SafetensorsFuzzTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String[] DTYPES = {
        "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
        "", "f32", "ü", "F32 ", "\u0000"
    };

    @TempDir
    Path dir;

    private byte[] base;
    private int headerLength;

    @Test
    void corruptedFilesOpenOrFailWithLoupeException() throws IOException {
        long seed = Long.getLong("loupe.fuzz.seed", 0x10_0BE_5EEDL);
        int maxCases = Integer.getInteger("loupe.fuzz.cases", 20_000);
        long deadline = System.nanoTime() + Long.getLong("loupe.fuzz.seconds", 5L) * 1_000_000_000L;
        base = validFile();
        headerLength =
                (int) ByteBuffer.wrap(base, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();

        Random master = new Random(seed);
        Path file = dir.resolve("fuzz.safetensors");
        int cases = 0;
        int accepted = 0;
        for (; cases < maxCases && System.nanoTime() < deadline; cases++) {
            long caseSeed = master.nextLong();
            Random rnd = new Random(caseSeed);
            List<String> log = new ArrayList<>();
            byte[] mutated;
            try {
                mutated = mutate(rnd, log);
            } catch (IOException e) {
                throw new AssertionError("test bug building case " + cases, e);
            }
            // A fresh file each time: truncating one whose pages are still mapped is slow.
            Files.deleteIfExists(file);
            file = dir.resolve("fuzz" + (cases % 2) + ".safetensors");
            Files.write(file, mutated);
            try {
                openAndReadEverything(file);
                accepted++;
            } catch (LoupeException expected) {
                if (!expected.getMessage().contains(file.toString())) {
                    fail(reproduce(seed, cases, caseSeed, log) + ": message does not name the file: "
                            + expected.getMessage());
                }
            } catch (Throwable t) {
                throw new AssertionError(reproduce(seed, cases, caseSeed, log) + ": " + t, t);
            }
        }
        System.out.printf(
                "safetensors fuzz: %d cases (%d accepted, %d rejected), seed %d%n",
                cases, accepted, cases - accepted, seed);
        assertTrue(cases >= 500, "too few fuzz cases ran: " + cases);
        assertTrue(accepted > 0 && accepted < cases, "mutations should produce both valid and invalid files");
    }

    private static String reproduce(long seed, int index, long caseSeed, List<String> log) {
        return "fuzz case " + index + " (-Dloupe.fuzz.seed=" + seed + ", case seed " + caseSeed + ", mutations " + log
                + ")";
    }

    private static void openAndReadEverything(Path file) {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            r.metadata();
            for (String name : r.names()) {
                r.info(name);
                r.read(name);
                r.readFloat(name);
            }
        }
    }

    /** A file with several dtypes, a scalar, an empty tensor and metadata. */
    private byte[] validFile() throws IOException {
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("embed.weight", Nd4j.linspace(1, 24, 24, DataType.FLOAT).reshape(4, 6));
        t.put("blocks.0.attn.W_Q", Nd4j.linspace(1, 12, 12, DataType.DOUBLE).reshape(2, 3, 2));
        t.put("half", Nd4j.linspace(1, 6, 6, DataType.FLOAT).castTo(DataType.HALF));
        t.put(
                "bf",
                Nd4j.linspace(1, 4, 4, DataType.FLOAT).castTo(DataType.BFLOAT16).reshape(2, 2));
        t.put("ids", Nd4j.createFromArray(3L, 1L, 4L));
        t.put("mask", Nd4j.createFromArray(true, false, true, true));
        t.put("scale", Nd4j.scalar(DataType.FLOAT, 0.5f));
        t.put("none", Nd4j.create(DataType.INT, new long[] {0, 3}, 'c'));
        t.put("bytes", Nd4j.createFromArray(new byte[] {1, -2, 3}));
        Path p = dir.resolve("base.safetensors");
        SafetensorsWriter.write(p, t, Map.of("format", "pt", "ünï", "cødé"));
        return Files.readAllBytes(p);
    }

    // ---------------------------------------------------------------- mutations

    private byte[] mutate(Random rnd, List<String> log) throws IOException {
        int rounds = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(3) : 0);
        byte[] current = base.clone();
        for (int i = 0; i < rounds; i++) {
            current = switch (rnd.nextInt(8)) {
                case 0 -> flipBytes(current, rnd, log);
                case 1 -> truncate(current, rnd, log);
                case 2 -> headerLengthField(current, rnd, log);
                case 3 -> textEdit(current, rnd, log);
                case 4 -> appendBytes(current, rnd, log);
                default -> jsonEdit(current, rnd, log);
            };
        }
        return current;
    }

    private byte[] flipBytes(byte[] f, Random rnd, List<String> log) {
        byte[] out = f.clone();
        int n = 1 + rnd.nextInt(4);
        for (int i = 0; i < n && out.length > 0; i++) {
            // mostly in the length field and header, where structure lives
            int limit = rnd.nextBoolean() ? Math.min(out.length, 8 + headerLength) : out.length;
            int pos = rnd.nextInt(limit);
            byte value = (byte) (rnd.nextBoolean() ? out[pos] ^ (1 << rnd.nextInt(8)) : rnd.nextInt(256));
            log.add("byte[" + pos + "]=" + value);
            out[pos] = value;
        }
        return out;
    }

    private byte[] truncate(byte[] f, Random rnd, List<String> log) {
        int len = rnd.nextInt(f.length + 1);
        log.add("truncate " + len);
        return Arrays.copyOf(f, len);
    }

    private byte[] appendBytes(byte[] f, Random rnd, List<String> log) {
        byte[] extra = new byte[1 + rnd.nextInt(64)];
        rnd.nextBytes(extra);
        log.add("append " + extra.length);
        byte[] out = Arrays.copyOf(f, f.length + extra.length);
        System.arraycopy(extra, 0, out, f.length, extra.length);
        return out;
    }

    private byte[] headerLengthField(byte[] f, Random rnd, List<String> log) {
        if (f.length < 8) {
            return f;
        }
        long n = ByteBuffer.wrap(f, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long[] choices = {
            0,
            1,
            2,
            n - 1,
            n + 1,
            n - 8,
            n + 8,
            f.length - 8,
            f.length - 7,
            f.length,
            100_000_000,
            100_000_001,
            Integer.MAX_VALUE,
            1L << 32,
            Long.MAX_VALUE,
            Long.MIN_VALUE,
            -1,
            rnd.nextLong(),
            rnd.nextInt(f.length + 1)
        };
        long v = choices[rnd.nextInt(choices.length)];
        log.add("headerLength=" + v);
        byte[] out = f.clone();
        ByteBuffer.wrap(out, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
        return out;
    }

    /** Character-level edits of the header text, keeping the length field consistent. */
    private byte[] textEdit(byte[] f, Random rnd, List<String> log) {
        Split s = Split.of(f);
        if (s == null) {
            return f;
        }
        StringBuilder h = new StringBuilder(new String(s.header, StandardCharsets.UTF_8));
        if (h.length() == 0) {
            return f;
        }
        int pos = rnd.nextInt(h.length());
        switch (rnd.nextInt(5)) {
            case 0 -> {
                int end = Math.min(h.length(), pos + 1 + rnd.nextInt(20));
                log.add("delete chars [" + pos + "," + end + ")");
                h.delete(pos, end);
            }
            case 1 -> {
                String alphabet = "{}[],:\"0123456789-.eE nulltrue\\ü\u0000";
                StringBuilder ins = new StringBuilder();
                for (int i = rnd.nextInt(6); i >= 0; i--) {
                    ins.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
                }
                log.add("insert '" + ins + "' at " + pos);
                h.insert(pos, ins);
            }
            case 2 -> {
                // duplicate one entry's text: "name":{...}
                int open = h.indexOf("\":{", pos);
                int start = open < 0 ? -1 : h.lastIndexOf(",\"", open);
                int close = open < 0 ? -1 : h.indexOf("}", open);
                if (start >= 0 && close > 0) {
                    String entry = h.substring(start, close + 1);
                    log.add("duplicate entry " + entry);
                    h.insert(close + 1, entry);
                }
            }
            case 3 -> {
                // replace a run of digits with another number
                int d = indexOfDigit(h, pos);
                if (d >= 0) {
                    int e = d;
                    while (e < h.length() && Character.isDigit(h.charAt(e))) {
                        e++;
                    }
                    String number = randomNumberText(rnd);
                    log.add("number at " + d + " -> " + number);
                    h.replace(d, e, number);
                }
            }
            default -> {
                // invalid UTF-8 straight into the bytes
                byte[] bytes = h.toString().getBytes(StandardCharsets.UTF_8);
                int p = rnd.nextInt(bytes.length);
                bytes[p] = (byte) (0x80 | rnd.nextInt(0x80));
                log.add("raw byte " + (bytes[p] & 0xFF) + " at " + p);
                return s.rebuild(bytes, rnd.nextInt(4) == 0 ? randomExtraData(rnd, s.data) : s.data);
            }
        }
        return s.rebuild(h.toString().getBytes(StandardCharsets.UTF_8), s.data);
    }

    private static int indexOfDigit(CharSequence h, int from) {
        for (int i = from; i < h.length(); i++) {
            if (Character.isDigit(h.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    /** Structural edits of the parsed header tree. */
    private byte[] jsonEdit(byte[] f, Random rnd, List<String> log) throws IOException {
        Split s = Split.of(f);
        if (s == null) {
            return f;
        }
        JsonNode root;
        try {
            root = JSON.readTree(s.header);
        } catch (IOException e) {
            return flipBytes(f, rnd, log); // an earlier round already broke the JSON
        }
        if (!(root instanceof ObjectNode obj) || obj.isEmpty()) {
            return f;
        }
        List<JsonSlot> slots = JsonSlot.all(obj, 0);
        JsonSlot slot = slots.get(rnd.nextInt(slots.size()));
        switch (rnd.nextInt(6)) {
            case 0 -> {
                JsonNode v = randomValue(rnd, 0);
                log.add("set " + slot + " = " + JsonSlot.abbreviate(v, 80));
                slot.set(v);
            }
            case 1 -> {
                log.add("remove " + slot);
                slot.remove();
            }
            case 2 -> {
                String key = randomKey(rnd, obj);
                JsonNode v = randomValue(rnd, 0);
                log.add("add " + key + " = " + JsonSlot.abbreviate(v, 80));
                (slot.parent() instanceof ObjectNode o ? o : obj).set(key, v);
            }
            case 3 -> consistentReshape(obj, rnd, log);
            case 4 -> swapSameSizeDtype(obj, rnd, log);
            default -> {
                int depth = 1 + rnd.nextInt(rnd.nextBoolean() ? 20 : 3000);
                JsonNode v = slot.get();
                for (int i = 0; i < depth; i++) {
                    v = rnd.nextBoolean()
                            ? NODES.arrayNode().add(v)
                            : NODES.objectNode().set("k", v);
                }
                log.add("nest " + slot + " " + depth + " deep");
                slot.set(v);
            }
        }
        byte[] header = JSON.writeValueAsBytes(obj);
        if (rnd.nextBoolean()) {
            int pad = rnd.nextInt(9);
            header = Arrays.copyOf(header, header.length + pad);
            Arrays.fill(header, header.length - pad, header.length, (byte) ' ');
        }
        return s.rebuild(header, rnd.nextInt(5) == 0 ? randomExtraData(rnd, s.data) : s.data);
    }

    /** Gives a tensor another shape with the same element count: a valid file that still reads. */
    private static void consistentReshape(ObjectNode root, Random rnd, List<String> log) {
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue() instanceof ObjectNode t
                    && t.get("shape") instanceof ArrayNode shape
                    && rnd.nextInt(3) == 0) {
                long n = 1;
                for (JsonNode d : shape) {
                    n *= d.asLong();
                }
                ArrayNode ns = NODES.arrayNode();
                long rest = n;
                for (long k = 2; k <= rest && ns.size() < 5; k++) {
                    while (rest % k == 0 && ns.size() < 5) {
                        ns.add(k);
                        rest /= k;
                    }
                }
                if (rest != 1 || n == 0) {
                    ns.add(rest);
                }
                if (rnd.nextBoolean()) {
                    ns.insert(rnd.nextInt(ns.size() + 1), 1);
                }
                log.add("reshape " + e.getKey() + " " + shape + " -> " + ns);
                t.set("shape", ns);
                return;
            }
        }
    }

    private static void swapSameSizeDtype(ObjectNode root, Random rnd, List<String> log) {
        String[][] groups = {{"F64", "I64"}, {"F32", "I32"}, {"F16", "BF16", "I16"}, {"U8", "I8", "BOOL"}};
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue() instanceof ObjectNode t && t.get("dtype") != null && rnd.nextInt(3) == 0) {
                String dtype = t.get("dtype").asText();
                for (String[] g : groups) {
                    if (Arrays.asList(g).contains(dtype)) {
                        String other = g[rnd.nextInt(g.length)];
                        log.add("dtype " + e.getKey() + " " + dtype + " -> " + other);
                        t.put("dtype", other);
                        return;
                    }
                }
            }
        }
    }

    private static String randomKey(Random rnd, ObjectNode root) {
        List<String> names = new ArrayList<>();
        root.fieldNames().forEachRemaining(names::add);
        String[] keys = {"__metadata__", "dtype", "shape", "data_offsets", "", "ключ", "\uD83D\uDE00", "x".repeat(300)};
        return rnd.nextBoolean() && !names.isEmpty()
                ? names.get(rnd.nextInt(names.size())) + "_copy"
                : keys[rnd.nextInt(keys.length)];
    }

    private static JsonNode randomValue(Random rnd, int depth) {
        switch (rnd.nextInt(depth > 2 ? 4 : 7)) {
            case 0:
                return randomNumber(rnd);
            case 1:
                return NODES.textNode(DTYPES[rnd.nextInt(DTYPES.length)]);
            case 2:
                return rnd.nextBoolean() ? NODES.nullNode() : NODES.booleanNode(rnd.nextBoolean());
            case 3:
                return NODES.textNode(rnd.nextBoolean() ? "" : "välue\n\"\\");
            case 4: {
                ArrayNode a = NODES.arrayNode();
                for (int i = rnd.nextInt(4); i > 0; i--) {
                    a.add(rnd.nextInt(3) == 0 ? randomValue(rnd, depth + 1) : randomNumber(rnd));
                }
                return a;
            }
            case 5: {
                ObjectNode o = NODES.objectNode();
                o.put("dtype", DTYPES[rnd.nextInt(DTYPES.length)]);
                o.set("shape", NODES.arrayNode().add(randomNumber(rnd)));
                o.set("data_offsets", NODES.arrayNode().add(randomNumber(rnd)).add(randomNumber(rnd)));
                return o;
            }
            default: {
                ObjectNode o = NODES.objectNode();
                for (int i = rnd.nextInt(3); i > 0; i--) {
                    o.set("k" + i, randomValue(rnd, depth + 1));
                }
                return o;
            }
        }
    }

    private static JsonNode randomNumber(Random rnd) {
        switch (rnd.nextInt(10)) {
            case 0:
                return NODES.numberNode(-1 - rnd.nextInt(10));
            case 1:
                return NODES.numberNode(
                        new BigInteger("18446744073709551616").add(BigInteger.valueOf(rnd.nextInt(100))));
            case 2:
                return NODES.numberNode(rnd.nextBoolean() ? Long.MAX_VALUE : Long.MIN_VALUE);
            case 3:
                return NODES.numberNode(rnd.nextBoolean() ? 0.5 : 1e308);
            case 4:
                return NODES.numberNode(1L << (20 + rnd.nextInt(43)));
            default:
                return NODES.numberNode(rnd.nextInt(200));
        }
    }

    private static String randomNumberText(Random rnd) {
        String[] special = {
            "-1",
            "0",
            "00",
            "1e2",
            "2.0",
            "-0",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "99999999999999999999999999999",
            "1" + "0".repeat(2000),
            "4294967296"
        };
        return rnd.nextBoolean() ? special[rnd.nextInt(special.length)] : Integer.toString(rnd.nextInt(300));
    }

    private static byte[] randomExtraData(Random rnd, byte[] data) {
        int len = Math.max(0, data.length + rnd.nextInt(33) - 16);
        byte[] out = Arrays.copyOf(data, len);
        return out;
    }

    /** A file cut into its header bytes and data bytes (null if the length field is unusable). */
    private record Split(byte[] header, byte[] data) {
        static Split of(byte[] f) {
            if (f.length < 8) {
                return null;
            }
            long n = ByteBuffer.wrap(f, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 0 || n > f.length - 8) {
                return null;
            }
            return new Split(Arrays.copyOfRange(f, 8, 8 + (int) n), Arrays.copyOfRange(f, 8 + (int) n, f.length));
        }

        byte[] rebuild(byte[] newHeader, byte[] newData) {
            return IoTestSupport.safetensors(newHeader, newData);
        }
    }
}
