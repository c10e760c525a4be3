package dev.loupe.engine.hooks;

import java.util.function.Predicate;

/**
 * A forward or backward hook attached to every hook point whose name the selector accepts.
 * Build with {@link #forward(String, ForwardHook)} for one point, or with a predicate for many
 * ({@code Hook.forward(n -> n.endsWith("hook_pattern"), fn)}), as TransformerLens allows.
 *
 * @param description the exact name, or a description of the predicate (used in errors)
 * @param exactName   true when the hook names one point, which must then exist
 */
public record Hook(
        String description, boolean exactName, Predicate<String> selector, ForwardHook forward, BackwardHook backward) {

    public static Hook forward(String name, ForwardHook fn) {
        return new Hook(name, true, name::equals, fn, null);
    }

    public static Hook forward(Predicate<String> names, ForwardHook fn) {
        return new Hook("<predicate>", false, names, fn, null);
    }

    public static Hook backward(String name, BackwardHook fn) {
        return new Hook(name, true, name::equals, null, fn);
    }

    public static Hook backward(Predicate<String> names, BackwardHook fn) {
        return new Hook("<predicate>", false, names, null, fn);
    }

    public boolean appliesTo(String name) {
        return selector.test(name);
    }
}
