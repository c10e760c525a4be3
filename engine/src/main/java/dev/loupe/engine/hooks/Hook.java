package dev.loupe.engine.hooks;

import java.util.function.Predicate;

/**
 * A forward or backward hook attached to every hook point whose name the selector accepts.
 * Build with {@link #forward(String, ForwardHook)} for one point (full or compact name), with
 * {@link #forward(String, int, ForwardHook)} by short name and layer, or with a predicate for many
 * ({@code Hook.forward(n -> n.endsWith("hook_pattern"), fn)}), as TransformerLens allows.
 *
 * @param description the exact name, or a description of the predicate (used in errors)
 * @param exactName   true when the hook names one point, which must then exist
 */
public record Hook(
        String description, boolean exactName, Predicate<String> selector, ForwardHook forward, BackwardHook backward) {

    /**
     * A forward hook on one point, by full name ({@code blocks.3.hook_resid_pre}) or compact name
     * ({@code "z0"}, {@code "scale4ln2"}), as {@link HookNames#actName(String, int)} expands them.
     */
    public static Hook forward(String name, ForwardHook fn) {
        return exact(HookNames.actName(name, -1), fn, null);
    }

    /**
     * A forward hook on one point by short name and layer, as the cache is read:
     * {@code Hook.forward("resid_pre", 3, fn)} hooks {@code blocks.3.hook_resid_pre}
     * (TransformerLens: {@code (utils.get_act_name("resid_pre", 3), fn)}).
     */
    public static Hook forward(String name, int layer, ForwardHook fn) {
        return exact(HookNames.actName(name, layer), fn, null);
    }

    public static Hook forward(Predicate<String> names, ForwardHook fn) {
        return new Hook("<predicate>", false, names, fn, null);
    }

    /** A backward hook on one point, by full or compact name. */
    public static Hook backward(String name, BackwardHook fn) {
        return exact(HookNames.actName(name, -1), null, fn);
    }

    /** A backward hook on one point by short name and layer: {@code Hook.backward("z", 1, fn)}. */
    public static Hook backward(String name, int layer, BackwardHook fn) {
        return exact(HookNames.actName(name, layer), null, fn);
    }

    public static Hook backward(Predicate<String> names, BackwardHook fn) {
        return new Hook("<predicate>", false, names, null, fn);
    }

    private static Hook exact(String name, ForwardHook forward, BackwardHook backward) {
        return new Hook(name, true, name::equals, forward, backward);
    }

    public boolean appliesTo(String name) {
        return selector.test(name);
    }
}
