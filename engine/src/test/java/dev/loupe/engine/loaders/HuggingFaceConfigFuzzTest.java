package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loads the reference folders with thousands of mutated {@code config.json}s: keys removed, values
 * replaced by other types, extreme numbers, other families' model types, nested rope_scaling edits
 * and raw text corruption. Each must load or fail with a {@link LoupeException} naming a file of the
 * folder; anything else (NullPointerException, ArithmeticException, OutOfMemoryError, ND4J
 * exceptions...) fails with the seed and mutations that reproduce it.
 * <p>
 * Seeded and time-bounded: {@code -Dloupe.fuzz.seed=N}, {@code -Dloupe.fuzz.seconds=S} (default 4).
 */
class HuggingFaceConfigFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory N = JsonNodeFactory.instance;

    @TempDir
    Path tmp;

    @Test
    void mutatedConfigsLoadOrFailWithLoupeException() throws IOException {
        long seed = Long.getLong("loupe.fuzz.seed", 0x4F_C0_F1_6L);
        long deadline = System.nanoTime() + Long.getLong("loupe.fuzz.seconds", 4L) * 1_000_000_000L;
        List<Path> folders = new ArrayList<>();
        List<String> originals = new ArrayList<>();
        for (String name : HfFixtures.CASES) {
            Path dir = HfFixtures.copy(name, tmp);
            folders.add(dir);
            originals.add(Files.readString(dir.resolve("config.json")));
        }
        Random master = new Random(seed);
        int cases = 0, accepted = 0;
        for (; System.nanoTime() < deadline; cases++) {
            long caseSeed = master.nextLong();
            Random rnd = new Random(caseSeed);
            int which = rnd.nextInt(folders.size());
            Path dir = folders.get(which);
            List<String> log = new ArrayList<>();
            log.add(HfFixtures.CASES.get(which));
            String mutated = mutate(originals.get(which), rnd, log);
            Files.writeString(dir.resolve("config.json"), mutated, StandardCharsets.UTF_8);
            try {
                HuggingFaceModel.load(dir);
                accepted++;
            } catch (LoupeException e) {
                if (e.getMessage() == null || !e.getMessage().contains(dir.toString()))
                    fail(reproduce(seed, cases, caseSeed, log) + ": message does not name the folder: "
                            + e.getMessage());
            } catch (Throwable t) {
                throw new AssertionError(reproduce(seed, cases, caseSeed, log) + ": " + t, t);
            }
        }
        System.out.printf(
                "hf config fuzz: %d cases (%d loaded, %d rejected), seed %d%n",
                cases, accepted, cases - accepted, seed);
        assertTrue(cases >= 200, "too few fuzz cases ran: " + cases);
        assertTrue(accepted > 0 && accepted < cases, "mutations should give both loadable and broken configs");
    }

    private static String reproduce(long seed, int index, long caseSeed, List<String> log) {
        return "fuzz case " + index + " (-Dloupe.fuzz.seed=" + seed + ", case seed " + caseSeed + ", mutations " + log
                + ")";
    }

    private static final String PUNCTUATION = "{[\",:}]0-e";
    private static final String[] MODEL_TYPES = {"gpt2", "gpt_neox", "llama", "mistral", "qwen2", "gemma2", "bert", ""};

    private static JsonNode randomValue(Random r) {
        return switch (r.nextInt(22)) {
            case 0 -> N.nullNode();
            case 1 -> N.numberNode(0);
            case 2 -> N.numberNode(-1);
            case 3 -> N.numberNode(1);
            case 4 -> N.numberNode(2);
            case 5 -> N.numberNode(3);
            case 6 -> N.numberNode(r.nextInt(64));
            case 7 -> N.numberNode(Integer.MAX_VALUE);
            case 8 -> N.numberNode(Integer.MIN_VALUE);
            case 9 -> N.numberNode(Long.MAX_VALUE);
            case 10 -> N.numberNode(1e300);
            case 11 -> N.numberNode(0.5);
            case 12 -> N.numberNode(-0.5);
            case 13 -> N.numberNode(1e-12);
            case 14 -> N.textNode("16");
            case 15 -> N.textNode(MODEL_TYPES[r.nextInt(MODEL_TYPES.length)]);
            case 16 -> N.booleanNode(r.nextBoolean());
            case 17 -> N.arrayNode();
            case 18 -> N.objectNode();
            case 19 -> N.arrayNode().add("sliding_attention").add("full_attention");
            case 20 -> N.objectNode().put("rope_type", "llama3").put("factor", 8);
            default -> N.numberNode(new java.math.BigInteger("123456789012345678901234567890"));
        };
    }

    static String mutate(String original, Random r, List<String> log) throws IOException {
        ObjectNode c = (ObjectNode) JSON.readTree(original);
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            List<String> keys = new ArrayList<>();
            c.fieldNames().forEachRemaining(keys::add);
            String key = keys.isEmpty() ? "model_type" : keys.get(r.nextInt(keys.size()));
            switch (r.nextInt(6)) {
                case 0 -> {
                    c.remove(key);
                    log.add("remove " + key);
                }
                case 1, 2 -> {
                    JsonNode v = randomValue(r);
                    c.set(key, v);
                    log.add(key + "=" + v);
                }
                case 3 -> {
                    String k = List.of(
                                    "rope_scaling",
                                    "layer_types",
                                    "sliding_window",
                                    "use_sliding_window",
                                    "head_dim",
                                    "attn_logit_softcapping",
                                    "final_logit_softcapping",
                                    "partial_rotary_factor",
                                    "rope_parameters",
                                    "num_key_value_heads",
                                    "tie_word_embeddings",
                                    "n_inner",
                                    "rotary_pct")
                            .get(r.nextInt(13));
                    JsonNode v = randomValue(r);
                    c.set(k, v);
                    log.add(k + "=" + v);
                }
                case 4 -> {
                    JsonNode rs = c.get("rope_scaling");
                    ObjectNode o =
                            rs instanceof ObjectNode on ? on : N.objectNode().put("rope_type", "llama3");
                    String k = List.of(
                                    "rope_type",
                                    "type",
                                    "factor",
                                    "low_freq_factor",
                                    "high_freq_factor",
                                    "original_max_position_embeddings")
                            .get(r.nextInt(6));
                    JsonNode v = r.nextBoolean() ? randomValue(r) : N.numberNode(r.nextDouble() * 10);
                    o.set(k, v);
                    c.set("rope_scaling", o);
                    log.add("rope_scaling." + k + "=" + v);
                }
                default -> {
                    String v = MODEL_TYPES[r.nextInt(MODEL_TYPES.length)];
                    c.put("model_type", v);
                    log.add("model_type=" + v);
                }
            }
        }
        String text = JSON.writeValueAsString(c);
        if (r.nextInt(8) == 0) { // raw text damage
            StringBuilder b = new StringBuilder(text);
            int at = r.nextInt(b.length());
            switch (r.nextInt(3)) {
                case 0 -> b.deleteCharAt(at);
                case 1 -> b.insert(at, PUNCTUATION.charAt(r.nextInt(PUNCTUATION.length())));
                default -> b.setCharAt(at, (char) (32 + r.nextInt(95)));
            }
            text = b.toString();
            log.add("text@" + at);
        }
        return text;
    }
}
