package dev.loupe.engine.tokenizer;

import java.util.OptionalInt;

/**
 * Which ids are the BOS, EOS and padding tokens (-1: none), and whether the reference tokenizer
 * adds the BOS by itself ({@code add_bos_token}, or a post-processor template starting with one).
 */
public record SpecialTokens(int bos, int eos, int pad, boolean addsBos) {
    public static final SpecialTokens NONE = new SpecialTokens(-1, -1, -1, false);

    static OptionalInt opt(int id) {
        return id >= 0 ? OptionalInt.of(id) : OptionalInt.empty();
    }
}
