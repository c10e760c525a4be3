package dev.loupe.saes;

import dev.loupe.saes.kernels.SparseCodes;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One pass of an SAE over rows [n, d_in], with the values of SAELens's SAE hook points.
 *
 * @param input      {@code hook_sae_input}: the rows as given (flattened) [n, d_in]
 * @param actsPre    {@code hook_sae_acts_pre}: pre-activations [n, d_sae] (for TopK with
 *                   {@code rescale_acts_by_decoder_norm}, after the rescaling, as SAELens)
 * @param actsPost   {@code hook_sae_acts_post}: latent activations [n, d_sae]
 * @param codes      the nonzero latents of TopK SAEs as sparse codes (null for the other architectures)
 * @param recons     {@code hook_sae_recons}: {@code acts @ W_dec + b_dec}, before undoing the normalization [n, d_in]
 * @param output     the reconstruction in input space [n, d_in] ({@code hook_sae_output} without an error term)
 * @param unnormalize undoes this pass's input normalization (the identity unless constant_norm_rescale or layer_norm)
 */
public record SaePass(
        INDArray input,
        INDArray actsPre,
        INDArray actsPost,
        SparseCodes codes,
        INDArray recons,
        INDArray output,
        UnaryOperator<INDArray> unnormalize) {

    /** {@code hook_sae_error}: {@code input - output} [n, d_in]. */
    public INDArray error() {
        return input.sub(output);
    }
}
