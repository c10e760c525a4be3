package dev.loupe.engine.hooks;

/**
 * A named place in the model where an activation can be read, replaced or differentiated.
 *
 * @param name  the full TransformerLens name, e.g. {@code blocks.3.attn.hook_pattern}
 * @param layer the block index, or -1 outside the blocks (embeddings, final norm, unembed)
 */
public record HookPoint(String name, int layer) {
    public static HookPoint of(String name) {
        return new HookPoint(name, HookNames.layerOf(name));
    }
}
