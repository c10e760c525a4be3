package dev.loupe.saes;

import dev.loupe.engine.LoupeException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/** SAELens's run-time activation normalization ({@code run_time_activation_norm_fn_in/out}); see {@link Normalization}. */
final class Normalizer {
    private static final double LN_EPS = 1e-5;

    private Normalizer() {}

    /** What one input's normalization needs to be undone. */
    interface Context {
        INDArray normalized();

        long rows();

        INDArray out(INDArray recons);
    }

    static Context in(SaeConfig c, INDArray x) {
        return switch (c.normalizeActivations()) {
            case NONE, EXPECTED_AVERAGE_ONLY_IN -> new Identity(x);
            case CONSTANT_NORM_RESCALE -> {
                // x_norm_coeff = sqrt(d_in) / ||x||
                INDArray coeff = Transforms.pow(x.norm2(1).reshape(x.size(0), 1), -1, true)
                        .muli(Math.sqrt(c.dIn()));
                yield new Rescale(x.mulColumnVector(coeff), coeff);
            }
            case LAYER_NORM -> {
                INDArray mu = x.mean(1).reshape(x.size(0), 1);
                INDArray centred = x.subColumnVector(mu);
                INDArray std = centred.std(true, 1).reshape(x.size(0), 1); // torch's std: unbiased
                yield new LayerNorm(centred.divColumnVector(std.add(LN_EPS)), mu, std);
            }
        };
    }

    /** Undoing a normalization without its input: only possible when it is the identity. */
    static INDArray plain(SaeConfig c, INDArray recons) {
        return switch (c.normalizeActivations()) {
            case NONE, EXPECTED_AVERAGE_ONLY_IN -> recons;
            default -> throw new LoupeException("decode: this SAE's normalize_activations is '"
                    + c.normalizeActivations().saeLensName() + "', whose output scale comes from the input: call encode"
                    + " on these rows first (as in SAELens), or use forward");
        };
    }

    private record Identity(INDArray normalized) implements Context {
        public long rows() {
            return normalized.size(0);
        }

        public INDArray out(INDArray recons) {
            return recons;
        }
    }

    private record Rescale(INDArray normalized, INDArray coeff) implements Context {
        public long rows() {
            return normalized.size(0);
        }

        public INDArray out(INDArray recons) {
            return recons.divColumnVector(coeff);
        }
    }

    private record LayerNorm(INDArray normalized, INDArray mu, INDArray std) implements Context {
        public long rows() {
            return normalized.size(0);
        }

        public INDArray out(INDArray recons) {
            return recons.mulColumnVector(std).addiColumnVector(mu);
        }
    }
}
