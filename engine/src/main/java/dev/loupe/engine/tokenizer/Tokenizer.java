package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.Tokens;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * Text ↔ token ids, reproducing a reference tokenizer exactly (see docs/tokenizers.md for which
 * golden files prove it). Implementations are immutable and thread-safe; load one with
 * {@link Tokenizers#load}.
 *
 * <p>Special tokens: {@link #encode(String)} treats text such as {@code <|endoftext|>} as plain
 * text; {@link #encode(String, boolean) encode(text, true)} recognises it as the single special
 * token. {@link #toTokens} and {@link #encodeBatch} follow TransformerLens, whose Hugging Face
 * tokenizer always recognises special tokens.
 */
public interface Tokenizer {

    /** The ids of {@code text}, special-token text encoded as plain text. No BOS. */
    default int[] encode(String text) {
        return encode(text, false);
    }

    /**
     * The ids of {@code text}, no BOS. With {@code allowSpecial}, special tokens written in the text
     * ({@code <|endoftext|>}, {@code <s>}...) become their single ids. Added tokens that are not
     * special (GPT-NeoX's runs of spaces) are always recognised, as in Hugging Face.
     */
    int[] encode(String text, boolean allowSpecial);

    /** As {@link #encode(String, boolean)} for UTF-8 bytes; invalid UTF-8 is an error naming the byte offset. */
    default int[] encode(byte[] utf8, boolean allowSpecial) {
        return encode(Utf8.decodeStrict(utf8, "input text"), allowSpecial);
    }

    /**
     * TransformerLens's {@code to_tokens} for one string: special tokens recognised, and the BOS
     * prepended when asked — the tokenizer's BOS, or its EOS when it has none (TransformerLens sets
     * {@code bos_token = eos_token} then).
     */
    default int[] toTokens(String text, boolean prependBos) {
        int[] ids = encode(text, true);
        if (!prependBos) return ids;
        int[] out = new int[ids.length + 1];
        out[0] = bosForPrepending();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** TransformerLens's default: a BOS is prepended. */
    default int[] toTokens(String text) {
        return toTokens(text, true);
    }

    /** The id {@link #toTokens} prepends: the BOS, else the EOS. */
    default int bosForPrepending() {
        OptionalInt bos = bosId().isPresent() ? bosId() : eosId();
        if (bos.isEmpty()) throw new LoupeException("this tokenizer has no BOS (and no EOS) token to prepend");
        return bos.getAsInt();
    }

    /**
     * The text of {@code ids}, as Hugging Face's {@code decode} (without cleaning up spaces): special
     * tokens appear as their text. For byte-level BPE without a normalizer (GPT-2, Llama 3)
     * {@code decode(encode(s)).equals(s)} for every string.
     */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    /** As {@link #decode(int[])}; {@code skipSpecial} leaves out special tokens (BOS, EOS, ...). */
    String decode(int[] ids, boolean skipSpecial);

    /**
     * One printable string per token, as TransformerLens's {@code to_str_tokens}: each token decoded
     * on its own (so a token holding part of a UTF-8 character shows U+FFFD, and SentencePiece
     * tokens lose their leading space as they do in Hugging Face).
     */
    default List<String> toStrTokens(int[] ids) {
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) out.add(decode(new int[] {id}));
        return out;
    }

    /** The vocabulary entry of {@code id} as Hugging Face spells it ({@code Ġthe}, {@code ▁the}, {@code <0x0A>}). */
    String tokenString(int id);

    /** One more than the largest token id. */
    int vocabSize();

    OptionalInt bosId();

    OptionalInt eosId();

    OptionalInt padId();

    /**
     * A padded batch as TransformerLens's {@code to_tokens(list)}: each text as {@link #toTokens},
     * padded on {@code padSide} with the pad token, else the EOS, else 0, with the attention mask.
     */
    default Tokens encodeBatch(List<String> texts, boolean prependBos, Tokens.Side padSide) {
        if (texts == null || texts.isEmpty()) throw new LoupeException("encodeBatch: no texts");
        List<int[]> rows = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            int[] ids = toTokens(texts.get(i), prependBos);
            if (ids.length == 0)
                throw new LoupeException("encodeBatch: text " + i + " encodes to no tokens (empty text without a BOS)");
            rows.add(ids);
        }
        int pad = padId().orElse(eosId().orElse(0));
        return Tokens.padded(rows, pad, padSide);
    }
}
