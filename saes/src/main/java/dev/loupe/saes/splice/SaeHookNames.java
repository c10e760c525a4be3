package dev.loupe.saes.splice;

import java.util.List;

/**
 * SAELens's hook points of an SAE spliced into a model at hook {@code H}: {@code H.hook_sae_input},
 * {@code H.hook_sae_acts_pre}, {@code H.hook_sae_acts_post} (the features), {@code H.hook_sae_recons},
 * {@code H.hook_sae_error} (with an error term) and {@code H.hook_sae_output}.
 */
public final class SaeHookNames {
    public static final String INPUT = "hook_sae_input",
            ACTS_PRE = "hook_sae_acts_pre",
            ACTS_POST = "hook_sae_acts_post",
            RECONS = "hook_sae_recons",
            ERROR = "hook_sae_error",
            OUTPUT = "hook_sae_output";

    public static final List<String> ALL = List.of(INPUT, ACTS_PRE, ACTS_POST, RECONS, ERROR, OUTPUT);

    private SaeHookNames() {}

    /** {@code <hook>.<point>}, e.g. {@code blocks.0.hook_resid_post.hook_sae_acts_post}. */
    public static String of(String hook, String point) {
        return hook + "." + point;
    }
}
