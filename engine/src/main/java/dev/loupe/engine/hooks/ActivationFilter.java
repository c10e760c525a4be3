package dev.loupe.engine.hooks;

import java.util.Set;
import java.util.function.Predicate;

/** Which hook points a cached run keeps. Everything else is freed as soon as the pass moves on. */
@FunctionalInterface
public interface ActivationFilter extends Predicate<String> {

    static ActivationFilter all() {
        return name -> true;
    }

    static ActivationFilter none() {
        return name -> false;
    }

    /**
     * Exactly these names (short forms like {@code "k6"} are expanded with {@link HookNames#actName}).
     * A run checks them against the model's hook points, so a misspelling is an error, not an empty cache.
     */
    static Names names(String... names) {
        Set<String> set = new java.util.LinkedHashSet<>();
        for (String n : names) set.add(HookNames.actName(n, -1));
        return new Names(Set.copyOf(set));
    }

    /** A filter that lists its names. */
    record Names(Set<String> names) implements ActivationFilter {
        @Override
        public boolean test(String name) {
            return names.contains(name);
        }
    }

    static ActivationFilter matching(Predicate<String> predicate) {
        return predicate::test;
    }

    /** Hook points inside blocks {@code from} (inclusive) to {@code to} (exclusive). */
    static ActivationFilter layers(int from, int to) {
        return name -> {
            int l = HookNames.layerOf(name);
            return l >= from && l < to;
        };
    }
}
