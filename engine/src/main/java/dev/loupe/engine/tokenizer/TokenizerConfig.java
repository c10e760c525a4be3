package dev.loupe.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * Decides the BOS, EOS and padding ids of a Hugging Face style tokenizer. A sibling
 * {@code tokenizer_config.json} wins: its {@code bos_token}, {@code eos_token}, {@code pad_token}
 * (a string, an {@code {"content": ...}} object, or null for none) and {@code add_bos_token}.
 * Roles it does not mention are taken from convention:
 * <ul>
 *   <li>BOS: the special token a {@code TemplateProcessing} post-processor puts first (Llama 3),
 *       else the first of {@code <|begin_of_text|>}, {@code <s>}, {@code <bos>}, {@code <|startoftext|>}
 *       in the vocabulary, else the EOS when that is {@code <|endoftext|>} (GPT-2, GPT-NeoX: BOS = EOS);</li>
 *   <li>EOS: the first of {@code <|end_of_text|>}, {@code </s>}, {@code <eos>}, {@code <|endoftext|>};</li>
 *   <li>padding: none (TransformerLens then pads with the EOS).</li>
 * </ul>
 */
final class TokenizerConfig {
    static final String FILE = "tokenizer_config.json";
    private static final List<String> BOS_NAMES = List.of("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>");
    private static final List<String> EOS_NAMES = List.of("<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>");

    private TokenizerConfig() {}

    /**
     * @param dir         the folder holding the tokenizer files (may be null)
     * @param idOf        token text → id, or null when not in the vocabulary
     * @param templateBos the BOS a post-processor template prepends, or -1
     */
    static SpecialTokens resolve(Path dir, Function<String, Integer> idOf, int templateBos) {
        Path file = dir == null ? null : dir.resolve(FILE);
        JsonFile cfg = file != null && Files.isRegularFile(file) ? JsonFile.read(file) : null;
        ObjectNode root = cfg == null ? null : cfg.object(cfg.root, "(top level)");

        int eos = role(cfg, root, "eos_token", idOf, -2);
        if (eos == -2) eos = firstPresent(EOS_NAMES, idOf);
        int bos = role(cfg, root, "bos_token", idOf, -2);
        if (bos == -2) {
            bos = templateBos >= 0 ? templateBos : firstPresent(BOS_NAMES, idOf);
            if (bos < 0 && eos >= 0 && Integer.valueOf(eos).equals(idOf.apply("<|endoftext|>"))) bos = eos;
        }
        int pad = role(cfg, root, "pad_token", idOf, -1);
        boolean addsBos = root != null && root.has("add_bos_token")
                ? cfg.optBool(root, "add_bos_token", false, "(top level)")
                : templateBos >= 0;
        return new SpecialTokens(bos, eos, pad, addsBos);
    }

    /** The id the config names for {@code key}; -1 when it says null; {@code absent} when it is silent. */
    private static int role(JsonFile cfg, ObjectNode root, String key, Function<String, Integer> idOf, int absent) {
        if (root == null || !root.has(key)) return absent;
        JsonNode v = root.get(key);
        if (v.isNull()) return -1;
        String content = v.isObject() ? cfg.string(v.get("content"), key + ".content") : cfg.string(v, key);
        Integer id = idOf.apply(content);
        if (id == null) throw cfg.error(key, "names '" + content + "', which is not in the vocabulary");
        return id;
    }

    private static int firstPresent(List<String> names, Function<String, Integer> idOf) {
        for (String n : names) {
            Integer id = idOf.apply(n);
            if (id != null) return id;
        }
        return -1;
    }
}
