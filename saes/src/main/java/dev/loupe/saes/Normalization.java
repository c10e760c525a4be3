package dev.loupe.saes;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * SAELens's {@code normalize_activations}: what an SAE does to its input before encoding (and undoes
 * after decoding).
 *
 * <ul>
 *   <li>{@code none}: nothing.
 *   <li>{@code expected_average_only_in} (Anthropic's April 2024 update): during training, inputs are
 *       multiplied by one constant, {@code sqrt(d_in) / E[||x||]}, estimated from the data; the trainer
 *       folds it into the weights at the end, so at inference (as in SAELens) it does nothing.
 *   <li>{@code constant_norm_rescale}: each row is scaled to norm {@code sqrt(d_in)} on the way in and
 *       scaled back on the way out.
 *   <li>{@code layer_norm}: each row is centred and divided by {@code std + 1e-5} (torch's unbiased std)
 *       on the way in; the way out multiplies by that std and adds the mean back.
 * </ul>
 */
public enum Normalization {
    NONE("none"),
    EXPECTED_AVERAGE_ONLY_IN("expected_average_only_in"),
    CONSTANT_NORM_RESCALE("constant_norm_rescale"),
    LAYER_NORM("layer_norm");

    private final String saeLensName;

    Normalization(String saeLensName) {
        this.saeLensName = saeLensName;
    }

    public String saeLensName() {
        return saeLensName;
    }

    public static Normalization parse(String name, String where) {
        for (Normalization n : values()) if (n.saeLensName.equals(name)) return n;
        throw new LoupeException(where + ": normalize_activations must be one of "
                + Arrays.stream(values()).map(Normalization::saeLensName).collect(Collectors.joining(", "))
                + "; got '" + name + "'");
    }
}
