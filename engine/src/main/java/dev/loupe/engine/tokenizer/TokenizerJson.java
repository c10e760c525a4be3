package dev.loupe.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads a Hugging Face {@code tokenizer.json} whose model is BPE: byte-level (GPT-2, Pythia /
 * GPT-NeoX, Llama 3, Qwen2) or SentencePiece-converted (Llama 2, Mistral, Gemma). Anything the
 * pipeline cannot reproduce exactly — another model type, an unknown normalizer, pre-tokenizer or
 * decoder, BPE dropout — is refused with a {@link LoupeException} that names the file, the
 * unsupported type and what is supported. The post-processor is not run (TransformerLens prepends
 * the BOS itself); it is only read to learn which token is the BOS.
 */
public final class TokenizerJson {
    static final List<String> MODELS = List.of("BPE");
    static final List<String> NORMALIZERS =
            List.of("Sequence", "Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip");
    static final List<String> PRE_TOKENIZERS = List.of("Sequence", "ByteLevel", "Split", "Metaspace", "Digits");
    static final List<String> DECODERS =
            List.of("Sequence", "ByteLevel", "Metaspace", "Replace", "ByteFallback", "Fuse", "Strip");

    private final JsonFile json;
    private boolean byteLevel, sentencePiece;

    private TokenizerJson(JsonFile json) {
        this.json = json;
    }

    /** Loads {@code file}; special-token roles also come from a sibling tokenizer_config.json. */
    public static HfTokenizer load(Path file) {
        return new TokenizerJson(JsonFile.read(file))
                .build(file.toAbsolutePath().getParent());
    }

    private HfTokenizer build(Path dir) {
        ObjectNode root = json.object(json.root, "(top level)");
        ObjectNode model = json.object(json.required(root, "model", "(top level)"), "model");
        Bpe bpe = bpe(model);
        Normalizer normalizer = normalizer(root.get("normalizer"), "normalizer");
        PreTokenizer pre = preTokenizer(root.get("pre_tokenizer"), "pre_tokenizer");
        Decoder decoder = decoder(root.get("decoder"), "decoder");
        List<AddedToken> added = addedTokens(root.get("added_tokens"));
        Map<String, Integer> addedIds = new HashMap<>();
        for (AddedToken t : added) addedIds.putIfAbsent(t.content(), t.id());
        int templateBos = templateBos(root.get("post_processor"), 0);
        SpecialTokens specials = TokenizerConfig.resolve(
                dir,
                s -> {
                    Integer id = addedIds.get(s);
                    return id != null ? id : bpe.id(s);
                },
                templateBos);
        String kind = byteLevel ? "byte-level BPE" : sentencePiece ? "SentencePiece BPE" : "BPE";
        return new HfTokenizer(json.name, kind, normalizer, pre, bpe, decoder, added, specials);
    }

    private LoupeException unsupported(String path, String what, String type, List<String> supported) {
        return json.error(
                path,
                "has type '" + type + "', which Loupe does not support (supported " + what + " types: "
                        + String.join(", ", supported) + ")");
    }

    private String type(ObjectNode o, String path) {
        return json.string(json.required(o, "type", path), path + ".type");
    }

    // ---------------------------------------------------------------- model

    private Bpe bpe(ObjectNode model) {
        String type = json.optString(model, "type", "model");
        if (type == null) {
            if (!model.has("merges"))
                throw json.error("model", "has no \"type\" (supported model types: " + String.join(", ", MODELS) + ")");
            type = "BPE";
        }
        if (!type.equals("BPE")) throw unsupported("model", "model", type, MODELS);
        JsonNode dropout = model.get("dropout");
        if (dropout != null && !dropout.isNull()) {
            if (!dropout.isNumber()) throw json.error("model.dropout", "must be a number or null");
            if (dropout.doubleValue() != 0.0)
                throw json.error(
                        "model.dropout", "is " + dropout.asText() + ": BPE dropout (random merges) is not supported");
        }
        Map<String, Integer> vocab =
                vocab(json.object(json.required(model, "vocab", "model"), "model.vocab"), json, "model.vocab");
        ArrayNode mergesNode = json.array(json.required(model, "merges", "model"), "model.merges");
        List<String[]> merges = new ArrayList<>(mergesNode.size());
        for (int i = 0; i < mergesNode.size(); i++) {
            JsonNode m = mergesNode.get(i);
            String path = "model.merges[" + i + "]";
            if (m.isTextual()) {
                String s = m.textValue();
                int sp = s.indexOf(' ');
                if (sp <= 0 || sp == s.length() - 1)
                    throw json.error(path, "must be two tokens separated by a space, got \"" + s + "\"");
                merges.add(new String[] {s.substring(0, sp), s.substring(sp + 1)});
            } else if (m.isArray() && m.size() == 2) {
                merges.add(new String[] {json.string(m.get(0), path + "[0]"), json.string(m.get(1), path + "[1]")});
            } else {
                throw json.error(path, "must be \"a b\" or [\"a\", \"b\"]");
            }
        }
        boolean byteFallback = json.optBool(model, "byte_fallback", false, "model");
        sentencePiece |= byteFallback;
        Bpe.Options options = new Bpe.Options(
                json.optString(model, "unk_token", "model"),
                json.optBool(model, "fuse_unk", false, "model"),
                byteFallback,
                json.optBool(model, "ignore_merges", false, "model"),
                json.optString(model, "continuing_subword_prefix", "model"),
                json.optString(model, "end_of_word_suffix", "model"));
        return new Bpe(vocab, merges, options, json.name);
    }

    /** A token → id object (tokenizer.json's model.vocab, or a whole vocab.json). */
    static Map<String, Integer> vocab(ObjectNode node, JsonFile file, String path) {
        Map<String, Integer> vocab = new HashMap<>(node.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            vocab.put(
                    e.getKey(),
                    file.integer(e.getValue(), path + "[\"" + abbreviate(e.getKey()) + "\"]", 0, Bpe.MAX_ID));
        }
        if (vocab.isEmpty()) throw file.error(path, "is empty");
        return vocab;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 37) + "..." : s;
    }

    // ---------------------------------------------------------------- added tokens

    private List<AddedToken> addedTokens(JsonNode node) {
        List<AddedToken> out = new ArrayList<>();
        if (node == null || node.isNull()) return out;
        ArrayNode arr = json.array(node, "added_tokens");
        for (int i = 0; i < arr.size(); i++) {
            String path = "added_tokens[" + i + "]";
            ObjectNode t = json.object(arr.get(i), path);
            int id = json.integer(json.required(t, "id", path), path + ".id", 0, Bpe.MAX_ID);
            String content = json.string(json.required(t, "content", path), path + ".content");
            boolean special = json.optBool(t, "special", false, path);
            out.add(new AddedToken(
                    id,
                    content,
                    special,
                    json.optBool(t, "lstrip", false, path),
                    json.optBool(t, "rstrip", false, path),
                    json.optBool(t, "single_word", false, path),
                    json.optBool(t, "normalized", !special, path)));
        }
        return out;
    }

    /** The id of the special token a TemplateProcessing post-processor puts first, or -1. */
    private static int templateBos(JsonNode pp, int depth) {
        if (pp == null || !pp.isObject() || depth > 8) return -1;
        String type = pp.path("type").asText("");
        if (type.equals("Sequence")) {
            for (JsonNode p : pp.path("processors")) {
                int id = templateBos(p, depth + 1);
                if (id >= 0) return id;
            }
            return -1;
        }
        if (!type.equals("TemplateProcessing")) return -1;
        JsonNode first = pp.path("single").path(0).path("SpecialToken").path("id");
        if (!first.isTextual()) return -1;
        JsonNode ids = pp.path("special_tokens").path(first.textValue()).path("ids");
        JsonNode id = ids.path(0);
        if (!ids.isArray()
                || ids.size() != 1
                || !id.isIntegralNumber()
                || !id.canConvertToInt()
                || id.intValue() < 0
                || id.intValue() > Bpe.MAX_ID) return -1;
        return id.intValue();
    }

    // ---------------------------------------------------------------- normalizers

    private Normalizer normalizer(JsonNode node, String path) {
        if (node == null || node.isNull()) return null;
        ObjectNode o = json.object(node, path);
        String type = type(o, path);
        switch (type) {
            case "Sequence" -> {
                ArrayNode arr = json.array(json.required(o, "normalizers", path), path + ".normalizers");
                List<Normalizer> steps = new ArrayList<>();
                for (int i = 0; i < arr.size(); i++) {
                    Normalizer n = normalizer(arr.get(i), path + ".normalizers[" + i + "]");
                    if (n != null) steps.add(n);
                }
                return new Normalizer.Sequence(steps);
            }
            case "Prepend" -> {
                String prefix = json.string(json.required(o, "prepend", path), path + ".prepend");
                if (prefix.equals("\u2581")) sentencePiece = true;
                return new Normalizer.Prepend(prefix);
            }
            case "Replace" -> {
                Pattern p = pattern(json.required(o, "pattern", path), path + ".pattern");
                String content = json.string(json.required(o, "content", path), path + ".content");
                if (content.equals("\u2581")) sentencePiece = true;
                return new Normalizer.Replace(p, content);
            }
            case "NFC" -> {
                return new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            }
            case "NFD" -> {
                return new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
            }
            case "NFKC" -> {
                return new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
            }
            case "NFKD" -> {
                return new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
            }
            case "Lowercase" -> {
                return new Normalizer.Lowercase();
            }
            case "Strip" -> {
                return new Normalizer.Strip(
                        json.optBool(o, "strip_left", false, path), json.optBool(o, "strip_right", false, path));
            }
            default -> throw unsupported(path, "normalizer", type, NORMALIZERS);
        }
    }

    /** A {@code {"String": s}} (literal) or {@code {"Regex": r}} pattern. */
    private Pattern pattern(JsonNode node, String path) {
        ObjectNode o = json.object(node, path);
        if (o.has("String")) return Pattern.compile(Pattern.quote(json.string(o.get("String"), path + ".String")));
        if (o.has("Regex")) {
            String regex = json.string(o.get("Regex"), path + ".Regex");
            try {
                return PreTokenizer.compile(regex);
            } catch (PatternSyntaxException e) {
                throw json.error(
                        path + ".Regex",
                        "is not a regular expression Java can compile: " + e.getDescription() + " (pattern \""
                                + abbreviate(regex) + "\")");
            } catch (StackOverflowError e) {
                throw json.error(path + ".Regex", "is nested too deeply to compile");
            }
        }
        throw json.error(path, "must be {\"String\": ...} or {\"Regex\": ...}");
    }

    // ---------------------------------------------------------------- pre-tokenizers

    private PreTokenizer preTokenizer(JsonNode node, String path) {
        if (node == null || node.isNull()) return null;
        ObjectNode o = json.object(node, path);
        String type = type(o, path);
        switch (type) {
            case "Sequence" -> {
                ArrayNode arr = json.array(json.required(o, "pretokenizers", path), path + ".pretokenizers");
                List<PreTokenizer> steps = new ArrayList<>();
                for (int i = 0; i < arr.size(); i++) {
                    PreTokenizer p = preTokenizer(arr.get(i), path + ".pretokenizers[" + i + "]");
                    if (p != null) steps.add(p);
                }
                return new PreTokenizer.Sequence(steps);
            }
            case "ByteLevel" -> {
                byteLevel = true;
                return new PreTokenizer.ByteLevel(
                        json.optBool(o, "add_prefix_space", true, path), json.optBool(o, "use_regex", true, path));
            }
            case "Split" -> {
                Pattern p = pattern(json.required(o, "pattern", path), path + ".pattern");
                return new PreTokenizer.Split(
                        p,
                        behavior(json.required(o, "behavior", path), path + ".behavior"),
                        json.optBool(o, "invert", false, path));
            }
            case "Metaspace" -> {
                sentencePiece = true;
                return new PreTokenizer.Metaspace(
                        json.character(json.required(o, "replacement", path), path + ".replacement"),
                        prependScheme(o, path),
                        json.optBool(o, "split", true, path));
            }
            case "Digits" -> {
                return new PreTokenizer.Digits(json.optBool(o, "individual_digits", false, path));
            }
            default -> throw unsupported(path, "pre-tokenizer", type, PRE_TOKENIZERS);
        }
    }

    private Splitter.Behavior behavior(JsonNode node, String path) {
        String b = json.string(node, path);
        return switch (b) {
            case "Removed" -> Splitter.Behavior.REMOVED;
            case "Isolated" -> Splitter.Behavior.ISOLATED;
            case "MergedWithPrevious" -> Splitter.Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> Splitter.Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> Splitter.Behavior.CONTIGUOUS;
            default -> throw json.error(
                    path,
                    "'" + b + "' is not a split behaviour (Removed, Isolated, "
                            + "MergedWithPrevious, MergedWithNext, Contiguous)");
        };
    }

    /** {@code prepend_scheme}, or the older {@code add_prefix_space} boolean. */
    private PreTokenizer.PrependScheme prependScheme(ObjectNode o, String path) {
        String scheme = json.optString(o, "prepend_scheme", path);
        if (scheme == null)
            return json.optBool(o, "add_prefix_space", true, path)
                    ? PreTokenizer.PrependScheme.ALWAYS
                    : PreTokenizer.PrependScheme.NEVER;
        return switch (scheme) {
            case "always" -> PreTokenizer.PrependScheme.ALWAYS;
            case "first" -> PreTokenizer.PrependScheme.FIRST;
            case "never" -> PreTokenizer.PrependScheme.NEVER;
            default -> throw json.error(
                    path + ".prepend_scheme", "'" + scheme + "' is not one of always, first, never");
        };
    }

    // ---------------------------------------------------------------- decoders

    private Decoder decoder(JsonNode node, String path) {
        if (node == null || node.isNull()) return null;
        ObjectNode o = json.object(node, path);
        String type = type(o, path);
        switch (type) {
            case "Sequence" -> {
                ArrayNode arr = json.array(json.required(o, "decoders", path), path + ".decoders");
                List<Decoder> steps = new ArrayList<>();
                for (int i = 0; i < arr.size(); i++) {
                    Decoder d = decoder(arr.get(i), path + ".decoders[" + i + "]");
                    if (d != null) steps.add(d);
                }
                return new Decoder.Sequence(steps);
            }
            case "ByteLevel" -> {
                return new Decoder.ByteLevel();
            }
            case "Metaspace" -> {
                return new Decoder.Metaspace(
                        json.character(json.required(o, "replacement", path), path + ".replacement"),
                        prependScheme(o, path) != PreTokenizer.PrependScheme.NEVER);
            }
            case "Replace" -> {
                return new Decoder.Replace(
                        pattern(json.required(o, "pattern", path), path + ".pattern"),
                        json.string(json.required(o, "content", path), path + ".content"));
            }
            case "ByteFallback" -> {
                return new Decoder.ByteFallback();
            }
            case "Fuse" -> {
                return new Decoder.Fuse();
            }
            case "Strip" -> {
                return new Decoder.Strip(
                        json.character(json.required(o, "content", path), path + ".content"),
                        json.integer(json.required(o, "start", path), path + ".start", 0, Integer.MAX_VALUE),
                        json.integer(json.required(o, "stop", path), path + ".stop", 0, Integer.MAX_VALUE));
            }
            default -> throw unsupported(path, "decoder", type, DECODERS);
        }
    }
}
