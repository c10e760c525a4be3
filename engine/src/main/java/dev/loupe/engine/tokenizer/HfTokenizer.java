package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A Hugging Face style BPE tokenizer, run as {@code tokenizers} runs it: added tokens are found
 * in the raw text, each remaining piece is normalized, added tokens with {@code normalized: true}
 * are found in it, what remains is pre-tokenized into words and each word is encoded by the
 * {@link Bpe} model. Decoding maps ids to token strings and runs the decoder chain.
 *
 * <p>Built from a {@code tokenizer.json} by {@link TokenizerJson}, or from GPT-2's
 * {@code vocab.json} + {@code merges.txt} by {@link Gpt2Files}.
 */
public final class HfTokenizer implements Tokenizer {
    private final String source;
    private final String kind;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final Bpe model;
    private final Decoder decoder;
    private final List<AddedToken> addedTokens;
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final AddedVocabulary added;
    private final SpecialTokens specials;
    private final int vocabSize;

    /**
     * @param normalizer   null for none
     * @param preTokenizer null for none (the whole normalized text is one word)
     * @param decoder      null for none (tokens joined with spaces, as HF does)
     */
    HfTokenizer(
            String source,
            String kind,
            Normalizer normalizer,
            PreTokenizer preTokenizer,
            Bpe model,
            Decoder decoder,
            List<AddedToken> addedTokens,
            SpecialTokens specials) {
        this.source = source;
        this.kind = kind;
        this.normalizer = normalizer == null ? Normalizer.NONE : normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.decoder = decoder;
        this.addedTokens = List.copyOf(addedTokens);
        int max = model.size() - 1;
        for (AddedToken t : addedTokens) {
            addedById.put(t.id(), t);
            max = Math.max(max, t.id());
        }
        this.vocabSize = max + 1;
        this.added = new AddedVocabulary(addedTokens, this.normalizer::apply);
        this.specials = specials;
    }

    /** The file this tokenizer was read from. */
    public String source() {
        return source;
    }

    /** What kind of tokenizer this is, in words ("byte-level BPE", "SentencePiece BPE"). */
    public String kind() {
        return kind;
    }

    public List<AddedToken> addedTokens() {
        return addedTokens;
    }

    /** Whether the reference tokenizer adds the BOS by itself (TransformerLens always prepends one by default). */
    public boolean addsBos() {
        return specials.addsBos();
    }

    @Override
    public int[] encode(String text, boolean allowSpecial) {
        if (text == null) throw new LoupeException("encode: text is null");
        Utf8.requireUnicode(text);
        IntList out = new IntList(text.length() / 3 + 4);
        List<AddedVocabulary.Segment> segments = added.hasRaw()
                ? added.split(text, false, allowSpecial)
                : List.of(new AddedVocabulary.Segment(text, -1, 0));
        for (AddedVocabulary.Segment seg : segments) {
            if (seg.isToken()) {
                out.add(seg.id());
                continue;
            }
            if (seg.text().isEmpty()) continue;
            String norm = normalizer.apply(seg.text());
            List<AddedVocabulary.Segment> inner = added.hasNormalized()
                    ? added.split(norm, true, allowSpecial)
                    : List.of(new AddedVocabulary.Segment(norm, -1, 0));
            for (AddedVocabulary.Segment s : inner) {
                if (s.isToken()) {
                    out.add(s.id());
                    continue;
                }
                if (s.text().isEmpty()) continue;
                PreTokenizer.Piece piece = new PreTokenizer.Piece(s.text(), seg.start() == 0 && s.start() == 0);
                List<PreTokenizer.Piece> words =
                        preTokenizer == null ? List.of(piece) : preTokenizer.apply(List.of(piece));
                for (PreTokenizer.Piece w : words) out.addAll(model.tokenize(w.text()));
            }
        }
        return out.toArray();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        if (ids == null) throw new LoupeException("decode: ids is null");
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            AddedToken t = addedById.get(id);
            if (t != null) {
                if (!(skipSpecial && t.special())) tokens.add(t.content());
                continue;
            }
            tokens.add(modelToken(id));
        }
        if (decoder == null) return String.join(" ", tokens);
        return String.join("", decoder.decodeChain(tokens));
    }

    private String modelToken(int id) {
        String s = model.token(id);
        if (s == null)
            throw new LoupeException(
                    "token id " + id + " is not in the vocabulary of " + source + " (ids 0.." + (vocabSize - 1) + ")");
        return s;
    }

    @Override
    public String tokenString(int id) {
        AddedToken t = addedById.get(id);
        return t != null ? t.content() : modelToken(id);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public OptionalInt bosId() {
        return SpecialTokens.opt(specials.bos());
    }

    @Override
    public OptionalInt eosId() {
        return SpecialTokens.opt(specials.eos());
    }

    @Override
    public OptionalInt padId() {
        return SpecialTokens.opt(specials.pad());
    }

    @Override
    public String toString() {
        return kind + " tokenizer from " + source + " (" + vocabSize + " tokens)";
    }
}
