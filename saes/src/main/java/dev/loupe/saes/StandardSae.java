package dev.loupe.saes;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/** SAELens's {@code StandardSAE}: {@code acts = relu(sae_in @ W_enc + b_enc)}. */
public final class StandardSae extends BaseSae {
    public StandardSae(SaeConfig config, Map<String, INDArray> tensors, String where) {
        super(config, tensors, where);
    }

    @Override
    protected Latents latents(INDArray saeIn) {
        INDArray pre = Encoder.pre(saeIn, wEnc, b_enc()); // [n, d_sae]
        return new Latents(pre, Transforms.relu(pre, true), null);
    }
}
