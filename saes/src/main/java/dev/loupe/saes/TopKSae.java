package dev.loupe.saes;

import dev.loupe.saes.kernels.SparseCodes;
import dev.loupe.saes.kernels.TopKSelect;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * SAELens's {@code TopKSAE}: of {@code pre = sae_in @ W_enc + b_enc} each row keeps its {@code k}
 * largest values, then ReLU ({@code topk} of the pre-activations, then {@code relu}); all other latents
 * are 0. With {@code rescale_acts_by_decoder_norm}, the selection is over {@code pre · ||W_dec[f]||}
 * and the decoder divides the activations by the norms again.
 *
 * <p>The k nonzero latents are kept as {@link SparseCodes} and decoded row by row (k rows of
 * {@code W_dec} per input) instead of a dense GEMM.
 */
public final class TopKSae extends BaseSae {
    private final INDArray decoderNorms; // [d_sae]; null without rescaling
    private final float[] inverseNorms;

    public TopKSae(SaeConfig config, Map<String, INDArray> tensors, String where) {
        super(config, tensors, where);
        if (config.rescaleActsByDecoderNorm()) {
            decoderNorms = wDec.norm2(1);
            inverseNorms = org.nd4j.linalg.ops.transforms.Transforms.pow(decoderNorms, -1, true)
                    .toFloatVector();
        } else {
            decoderNorms = null;
            inverseNorms = null;
        }
    }

    public int k() {
        return config.k();
    }

    /** The nonzero latents of rows [n, d_in] as sparse codes (values after ReLU), without a dense [n, d_sae] result. */
    public SparseCodes encodeSparse(INDArray x) {
        Rows rows = Rows.of(x, config, "SAE input");
        return select(processed(Normalizer.in(config, rows.matrix()).normalized()));
    }

    private SparseCodes select(INDArray saeIn) {
        INDArray pre = Encoder.pre(saeIn, wEnc, b_enc()); // [n, d_sae]
        if (decoderNorms != null) pre.muliRowVector(decoderNorms);
        return relu(TopKSelect.perRow(pre, config.k()));
    }

    private static SparseCodes relu(SparseCodes codes) {
        float[] v = codes.value().clone();
        for (int i = 0; i < v.length; i++) if (!(v[i] > 0)) v[i] = 0;
        return codes.withValues(v);
    }

    @Override
    protected Latents latents(INDArray saeIn) {
        INDArray pre = Encoder.pre(saeIn, wEnc, b_enc()); // [n, d_sae]
        if (decoderNorms != null) pre.muliRowVector(decoderNorms);
        SparseCodes codes = relu(TopKSelect.perRow(pre, config.k()));
        return new Latents(pre, codes.toDense(), codes);
    }

    @Override
    protected INDArray decoderInput(INDArray acts) {
        return decoderNorms == null ? acts : acts.divRowVector(decoderNorms);
    }

    @Override
    protected float[] sparseDecoderCoefficients(SparseCodes codes) {
        if (inverseNorms == null) return codes.value();
        float[] v = codes.value(), out = new float[v.length];
        int[] idx = codes.index();
        for (int e = 0; e < v.length; e++) out[e] = v[e] * inverseNorms[idx[e]];
        return out;
    }

    /** Decodes sparse codes (as {@link #encodeSparse} gives) into reconstructions [n, d_in], undoing no normalization. */
    public INDArray decodeSparse(SparseCodes codes) {
        return linearDecode(null, codes);
    }
}
