package dev.loupe.saes;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A sparse autoencoder, as SAELens's {@code SAE}: {@code encode} maps activations [..., d_in] to latent
 * activations [..., d_sae], {@code decode} maps them back, {@code forward} is both. Weights have
 * SAELens's names and shapes. Implementations: {@link StandardSae}, {@link TopKSae}, {@link JumpReLUSae},
 * {@link GatedSae}; read and write them with {@link dev.loupe.saes.io.SaeLensFolder}.
 *
 * <p>As in SAELens, {@code decode} undoes the input normalization of the last {@code encode} on this
 * object ({@code constant_norm_rescale}, {@code layer_norm}); {@link #forward} does both at once and is
 * safe to call from several threads.
 */
public interface Sae {
    SaeConfig config();

    /** Latent activations ({@code hook_sae_acts_post}) [..., d_sae] of inputs [..., d_in]. */
    INDArray encode(INDArray x);

    /** Reconstructions [..., d_in] of latent activations [..., d_sae]. */
    INDArray decode(INDArray featureActs);

    /**
     * Reconstructions [n, d_in] of (edited) latent activations [n, d_sae] of a {@link #run}'s rows, undoing
     * that pass's normalization: for splicing, where hooks may edit the latents between encode and decode.
     */
    INDArray decode(INDArray featureActs, SaePass pass);

    /** {@code decode(encode(x))}: the reconstruction, in {@code x}'s shape. */
    INDArray forward(INDArray x);

    /** Every intermediate of one pass over rows [n, d_in] (the SAE's hook points). */
    SaePass run(INDArray x);

    /** [d_in, d_sae]. */
    INDArray W_enc();

    /** [d_sae]; for a gated SAE, {@code b_mag}. */
    INDArray b_enc();

    /** [d_sae, d_in]. */
    INDArray W_dec();

    /** [d_in]. */
    INDArray b_dec();

    /** Every tensor under its SAELens name, as {@code sae_weights.safetensors} holds them. */
    Map<String, INDArray> stateDict();
}
