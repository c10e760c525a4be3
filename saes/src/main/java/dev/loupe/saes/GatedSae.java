package dev.loupe.saes;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * SAELens's {@code GatedSAE}: a gate {@code sae_in @ W_enc + b_gate > 0} decides which latents fire and
 * a magnitude path {@code relu(sae_in @ (W_enc · exp(r_mag)) + b_mag)} how strongly. Like SAELens it has
 * no {@code b_enc} ({@link #b_enc()} is null); {@code hook_sae_acts_pre} is the magnitude pre-activation.
 */
public final class GatedSae extends BaseSae {
    public GatedSae(SaeConfig config, Map<String, INDArray> tensors, String where) {
        super(config, tensors, where);
    }

    @Override
    public INDArray b_enc() {
        return null;
    }

    public INDArray b_gate() {
        return tensor("b_gate");
    }

    public INDArray b_mag() {
        return tensor("b_mag");
    }

    public INDArray r_mag() {
        return tensor("r_mag");
    }

    @Override
    protected Latents latents(INDArray saeIn) {
        INDArray gate = Encoder.pre(saeIn, wEnc, b_gate()).gt(0).castTo(wEnc.dataType()); // [n, d_sae]
        INDArray wMag = wEnc.mulRowVector(Transforms.exp(r_mag(), true));
        INDArray magPre = Encoder.pre(saeIn, wMag, b_mag());
        return new Latents(magPre, Transforms.relu(magPre, true).muli(gate), null);
    }
}
