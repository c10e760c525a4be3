package dev.loupe.spark.stats;

import dev.loupe.engine.LoupeException;
import dev.loupe.saes.Sae;
import dev.loupe.saes.SaeConfig;
import dev.loupe.saes.io.SaeSource;
import dev.loupe.spark.ExecutorResources;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An SAE's latents as features: feature i of a row x is latent i of {@link Sae#encode}(x)
 * ({@code hook_sae_acts_post}), on the store's rows of the SAE's hook. The SAE is where {@code --sae}
 * points ({@link SaeSource}: an SAELens folder, {@code hf:org/repo/folder} or a zoo name); the driver reads
 * it to learn its hook and widths, and each executor's JVM reads it once ({@link ExecutorResources#sae}),
 * so only its source travels with the tasks. A folder must be on a filesystem every executor reaches (as
 * the store is); an {@code hf:} SAE is read from each node's Hugging Face cache.
 *
 * @param source where the SAE is (a folder as an absolute path)
 * @param hook   the store hook the SAE reads: its {@code hook_name}, unless the caller overrides it
 */
public record SaeEncoder(String source, String hook, int dIn, int features, String architecture)
        implements FeatureEncoder {

    /** The SAE at {@code spec} on its own hook ({@code metadata.hook_name}). */
    public static SaeEncoder of(String spec) {
        return of(spec, null);
    }

    /** The SAE at {@code spec}, reading the store hook {@code hook} (its own {@code hook_name} when null). */
    public static SaeEncoder of(String spec, String hook) {
        String source = spec != null && Files.isDirectory(Path.of(spec))
                ? Path.of(spec).toAbsolutePath().normalize().toString()
                : spec;
        SaeConfig c = ExecutorResources.sae(source).config();
        String h = hook != null ? hook : c.hookName();
        if (h == null)
            throw new LoupeException(
                    "--sae " + spec + ": its cfg.json names no hook (metadata.hook_name); give --hook");
        return new SaeEncoder(source, h, c.dIn(), c.dSae(), c.architecture().saeLensName());
    }

    @Override
    public INDArray encode(INDArray rows) {
        Sae sae = ExecutorResources.sae(source);
        if (sae.config().dIn() != dIn || sae.config().dSae() != features)
            throw new LoupeException("--sae " + source + ": this node read an SAE of d_in "
                    + sae.config().dIn()
                    + ", d_sae " + sae.config().dSae() + ", the driver's has " + dIn + ", " + features
                    + ". Every node must see the same SAE.");
        return sae.encode(rows); // [n, d_sae]
    }

    @Override
    public String describe() {
        return features + " latents of the " + architecture + " SAE " + source + " on " + hook;
    }
}
