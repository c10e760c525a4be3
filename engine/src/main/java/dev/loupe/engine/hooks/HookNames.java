package dev.loupe.engine.hooks;

import dev.loupe.engine.ClosestNames;
import dev.loupe.engine.LoupeException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Hook names as TransformerLens spells them, and the lookup helpers around them. */
public final class HookNames {
    private HookNames() {}

    private static final Map<String, String> LAYER_TYPE_ALIAS =
            Map.of("a", "attn", "m", "mlp", "b", "", "block", "", "blocks", "", "attention", "attn");
    private static final Map<String, String> ACT_NAME_ALIAS = Map.of(
            "attn",
            "pattern",
            "attn_logits",
            "attn_scores",
            "key",
            "k",
            "query",
            "q",
            "value",
            "v",
            "mlp_pre",
            "pre",
            "mlp_mid",
            "mid",
            "mlp_post",
            "post");
    private static final Set<String> ATTN =
            Set.of("k", "v", "q", "z", "rot_k", "rot_q", "result", "pattern", "attn_scores");
    private static final Set<String> MLP = Set.of("pre", "post", "mid", "pre_linear");
    private static final Pattern SHORT = Pattern.compile("([a-z_]+?)(\\d+)([a-z]*\\d?)");
    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\..*");

    /** TransformerLens's {@code get_act_name}: {@code actName("pattern", 3)} is {@code blocks.3.attn.hook_pattern}. */
    public static String actName(String name, int layer) {
        return actName(name, layer, null);
    }

    /**
     * The full hook name from a short one. Also accepts the compact form {@code "k6"} ({@code
     * blocks.6.attn.hook_k}) and {@code "scale4ln2"}; a full name is returned unchanged.
     *
     * @param layer     the block, or a negative number for none
     * @param layerType "attn", "mlp", "ln1", "ln2", "a", "m" or null
     */
    public static String actName(String name, int layer, String layerType) {
        if ((name.contains(".") || name.startsWith("hook_")) && layer < 0) return name;
        if (layer < 0) {
            Matcher m = SHORT.matcher(name);
            if (m.matches()) {
                name = m.group(1);
                layer = Integer.parseInt(m.group(2));
                if (!m.group(3).isEmpty()) layerType = m.group(3);
            }
        }
        name = ACT_NAME_ALIAS.getOrDefault(name, name);
        StringBuilder full = new StringBuilder();
        if (layer >= 0) full.append("blocks.").append(layer).append('.');
        if (ATTN.contains(name)) layerType = "attn";
        else if (MLP.contains(name)) layerType = "mlp";
        else if (layerType != null && LAYER_TYPE_ALIAS.containsKey(layerType))
            layerType = LAYER_TYPE_ALIAS.get(layerType);
        if (layerType != null && !layerType.isEmpty()) full.append(layerType).append('.');
        full.append("hook_").append(name);
        if ((name.equals("scale") || name.equals("normalized")) && layer < 0) return "ln_final." + full;
        return full.toString();
    }

    /** The short name: {@code blocks.3.attn.hook_pattern} gives {@code pattern}. */
    public static String shortName(String fullName) {
        int i = fullName.lastIndexOf("hook_");
        return i < 0 ? fullName : fullName.substring(i + 5);
    }

    /** The block index in a name, or -1. */
    public static int layerOf(String name) {
        Matcher m = BLOCK.matcher(name);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** An error for a hook point this model does not have. */
    public static LoupeException unknownHook(String name, Collection<String> known) {
        if (name.endsWith("attn.hook_result") && layerOf(name) >= 0)
            return new LoupeException("hook point '" + name + "' is off: per-head results are large; enable them with "
                    + "model.useAttnResult(true)");
        return unknown("hook point", name, known);
    }

    /** An error for a name that is not among {@code known}, listing the closest ones. */
    public static LoupeException unknown(String what, String name, Collection<String> known) {
        List<String> close = ClosestNames.closest(name, known, 3);
        return new LoupeException("unknown " + what + " '" + name + "'; closest: " + String.join(", ", close));
    }
}
