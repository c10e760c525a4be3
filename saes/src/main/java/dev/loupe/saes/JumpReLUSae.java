package dev.loupe.saes;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * SAELens's {@code JumpReLUSAE}: {@code acts = relu(pre) · (pre > threshold)} with
 * {@code pre = sae_in @ W_enc + b_enc} and a learned {@code threshold} per latent. Trained BatchTopK
 * SAEs are saved as this architecture too, with one threshold for all latents.
 */
public final class JumpReLUSae extends BaseSae {
    public JumpReLUSae(SaeConfig config, Map<String, INDArray> tensors, String where) {
        super(config, tensors, where);
    }

    /** [d_sae]. */
    public INDArray threshold() {
        return tensor("threshold");
    }

    @Override
    protected Latents latents(INDArray saeIn) {
        INDArray pre = Encoder.pre(saeIn, wEnc, b_enc()); // [n, d_sae]
        INDArray mask =
                pre.subRowVector(threshold()).gt(0).castTo(pre.dataType()); // pre - t > 0 exactly when pre > t (IEEE)
        return new Latents(pre, Transforms.relu(pre, true).muli(mask), null);
    }
}
