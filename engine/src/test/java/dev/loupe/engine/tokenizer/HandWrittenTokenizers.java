package dev.loupe.engine.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Small tokenizer.json files of each supported kind, written by hand so that the expected ids can
 * be worked out on paper (the tests say how). Byte-level vocabularies spell a space {@code Ġ} and a
 * newline {@code Ċ}.
 */
final class HandWrittenTokenizers {
    static final ObjectMapper JSON = new ObjectMapper();

    private HandWrittenTokenizers() {}

    /**
     * GPT-2 style: ByteLevel pre-tokenizer (GPT-2 regex), ByteLevel decoder, one special added
     * token {@code <eot>} (id 100) and one plain added token {@code ccc} (id 101).
     */
    static ObjectNode byteLevel() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        ArrayNode added = root.putArray("added_tokens");
        added.add(addedToken(100, "<eot>", true));
        added.add(addedToken(101, "ccc", false));
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel")
                .put("add_prefix_space", false)
                .put("trim_offsets", true)
                .put("use_regex", true);
        root.putNull("post_processor");
        root.putObject("decoder")
                .put("type", "ByteLevel")
                .put("add_prefix_space", true)
                .put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = bpeModel();
        ObjectNode vocab = model.putObject("vocab");
        String[] tokens = {"a", "b", "c", "Ġ", "ab", "abc", "Ġab", "!", "Ġabc", "<", "e", "o", "t", ">"};
        for (int i = 0; i < tokens.length; i++) vocab.put(tokens[i], i);
        ArrayNode merges = model.putArray("merges");
        merges.add("a b").add("ab c").add("Ġ ab").add("Ġab c");
        root.set("model", model);
        return root;
    }

    /**
     * Llama 2 style (legacy SentencePiece conversion): Prepend("▁") + Replace(" " → "▁") normalizer,
     * no pre-tokenizer, byte_fallback with {@code <0x00>}..{@code <0xFF>} at ids 3..258, and the
     * Replace/ByteFallback/Fuse/Strip decoder.
     */
    static ObjectNode sentencePiece() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode added = root.putArray("added_tokens");
        added.add(addedToken(0, "<unk>", true));
        added.add(addedToken(1, "<s>", true));
        added.add(addedToken(2, "</s>", true));
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "Sequence");
        ArrayNode steps = norm.putArray("normalizers");
        steps.addObject().put("type", "Prepend").put("prepend", "▁");
        ObjectNode replace = steps.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "▁");
        root.putNull("pre_tokenizer");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ObjectNode r = ds.addObject().put("type", "Replace");
        r.putObject("pattern").put("String", "▁");
        r.put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = bpeModel();
        model.put("unk_token", "<unk>").put("fuse_unk", true).put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        vocab.put("<unk>", 0).put("<s>", 1).put("</s>", 2);
        for (int b = 0; b < 256; b++) vocab.put(String.format("<0x%02X>", b), 3 + b);
        String[] tokens = {"▁", "a", "b", "▁a", "ab", "▁ab"};
        for (int i = 0; i < tokens.length; i++) vocab.put(tokens[i], 259 + i);
        model.putArray("merges").add("a b").add("▁ a").add("▁ ab");
        root.set("model", model);
        return root;
    }

    /** The Llama 3 pre-tokenization regex. */
    static final String LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /**
     * Llama 3 style: Sequence[Split(Llama 3 regex, Isolated), ByteLevel(use_regex false)],
     * {@code ignore_merges}, a TemplateProcessing post-processor that starts with
     * {@code <|begin_of_text|>} (id 20), and {@code <|end_of_text|>} (id 21).
     */
    static ObjectNode llama3() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode added = root.putArray("added_tokens");
        added.add(addedToken(20, "<|begin_of_text|>", true));
        added.add(addedToken(21, "<|end_of_text|>", true));
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode pres = pre.putArray("pretokenizers");
        ObjectNode split = pres.addObject().put("type", "Split");
        split.putObject("pattern").put("Regex", LLAMA3_PATTERN);
        split.put("behavior", "Isolated").put("invert", false);
        pres.addObject()
                .put("type", "ByteLevel")
                .put("add_prefix_space", false)
                .put("trim_offsets", true)
                .put("use_regex", false);
        ObjectNode pp = root.putObject("post_processor");
        pp.put("type", "Sequence");
        ArrayNode procs = pp.putArray("processors");
        procs.addObject()
                .put("type", "ByteLevel")
                .put("add_prefix_space", true)
                .put("trim_offsets", false)
                .put("use_regex", true);
        ObjectNode tpl = procs.addObject().put("type", "TemplateProcessing");
        ArrayNode single = tpl.putArray("single");
        single.addObject()
                .putObject("SpecialToken")
                .put("id", "<|begin_of_text|>")
                .put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        tpl.putArray("pair");
        ObjectNode st = tpl.putObject("special_tokens").putObject("<|begin_of_text|>");
        st.put("id", "<|begin_of_text|>");
        st.putArray("ids").add(20);
        st.putArray("tokens").add("<|begin_of_text|>");
        root.putObject("decoder")
                .put("type", "ByteLevel")
                .put("add_prefix_space", true)
                .put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = bpeModel();
        model.put("ignore_merges", true);
        ObjectNode vocab = model.putObject("vocab");
        String[] tokens = {
            "I", "'", "M", "'M", "Ġ", "1", "2", "3", "4", "5", "12", "123", "45", "o", "k", "Ġo", "Ġok", "ok", "Ċ", "ĊĊ"
        };
        for (int i = 0; i < tokens.length; i++) vocab.put(tokens[i], i);
        ArrayNode merges = model.putArray("merges");
        // newer tokenizer.json files write merges as pairs; "4 5" is deliberately missing
        for (String m : new String[] {"1 2", "12 3", "Ġ o", "Ġo k", "' M", "o k", "Ċ Ċ"}) {
            String[] p = m.split(" ");
            merges.addArray().add(p[0]).add(p[1]);
        }
        root.set("model", model);
        return root;
    }

    static ObjectNode bpeModel() {
        ObjectNode model = JSON.createObjectNode();
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        return model;
    }

    static ObjectNode addedToken(int id, String content, boolean special) {
        ObjectNode t = JSON.createObjectNode();
        t.put("id", id)
                .put("content", content)
                .put("single_word", false)
                .put("lstrip", false)
                .put("rstrip", false)
                .put("normalized", !special)
                .put("special", special);
        return t;
    }

    /** Writes {@code json} as {@code dir/tokenizer.json} and loads it. */
    static HfTokenizer load(Path dir, ObjectNode json) {
        return TokenizerJson.load(write(dir, "tokenizer.json", json));
    }

    static Path write(Path dir, String name, ObjectNode json) {
        try {
            Files.createDirectories(dir);
            Path p = dir.resolve(name);
            Files.write(p, JSON.writeValueAsBytes(json));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
