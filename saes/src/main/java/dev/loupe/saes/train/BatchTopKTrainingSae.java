package dev.loupe.saes.train;

import dev.loupe.saes.kernels.SparseCodes;
import dev.loupe.saes.kernels.TopKSelect;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SAELens's {@code BatchTopKTrainingSAE}: as TopK, but the batch as a whole keeps its {@code k · B} largest
 * activations {@code relu(hidden_pre)}, so rows use k latents on average. A running threshold follows the
 * smallest kept activation ({@code θ ← (1 - lr) θ + lr · min}); the trained SAE is saved as a JumpReLU SAE
 * with that threshold for every latent, as SAELens does.
 */
final class BatchTopKTrainingSae extends TopKTrainingSae {
    private double threshold; // SAELens keeps it in double precision

    BatchTopKTrainingSae(SaeSpec spec, int dIn, long seed) {
        super(spec, dIn, seed);
    }

    @Override
    protected SparseCodes select(INDArray raw, float[] bEnc, float[] norms, int rows) {
        INDArray pre = raw.addRowVector(Nd4j.create(bEnc));
        if (norms != null) pre.muliRowVector(Nd4j.create(norms));
        return TopKSelect.batch(pre, (long) spec.k() * rows);
    }

    @Override
    protected void selected(SparseCodes codes) {
        float min = Float.POSITIVE_INFINITY;
        for (float v : codes.value()) if (v > 0 && v < min) min = v;
        if (min != Float.POSITIVE_INFINITY)
            threshold = (1 - spec.topkThresholdLr()) * threshold + spec.topkThresholdLr() * min;
    }

    /** The running threshold (SAELens's {@code topk_threshold}). */
    double threshold() {
        return threshold;
    }

    @Override
    public Map<String, Double> extraState() {
        return Map.of("topk_threshold", threshold);
    }

    @Override
    public void restoreExtraState(Map<String, Double> state) {
        Double t = state.get("topk_threshold");
        if (t == null) throw new IllegalArgumentException("the checkpoint has no topk_threshold");
        threshold = t;
    }

    @Override
    protected Map<String, INDArray> inferenceTensors() {
        Map<String, INDArray> t = super.inferenceTensors(); // folds the decoder norms when rescaling
        t.put("threshold", Nd4j.valueArrayOf(new long[] {dSae}, (float) threshold));
        return t;
    }
}
