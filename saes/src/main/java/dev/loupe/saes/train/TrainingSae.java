package dev.loupe.saes.train;

import dev.loupe.saes.Architecture;
import dev.loupe.saes.Normalization;
import dev.loupe.saes.Sae;
import dev.loupe.saes.SaeConfig;
import dev.loupe.saes.Saes;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An SAE being trained, as SAELens's {@code TrainingSAE}: its parameters (in a {@link ParamSet}), one
 * training step (forward, loss, and the gradient of every parameter, written by hand: each architecture
 * is a few matrix products, and the sparse ones never form a dense activation matrix), and the
 * inference SAE it becomes. One subclass per architecture.
 *
 * <p>Initialisation is SAELens's: {@code W_dec} kaiming-uniform with rows scaled to
 * {@code decoder_init_norm} (0.1), {@code W_enc = W_dec^T}, biases 0; drawn from the seed with
 * {@link SplittableRandom}, so the same on every JVM. {@code b_dec} is then set from data by the trainer.
 */
public abstract class TrainingSae {
    protected final SaeSpec spec;
    protected final int dIn, dSae;
    protected final ParamSet p;
    /** W_enc stored transposed [d_sae, d_in], W_dec [d_sae, d_in], b_dec [d_in]. */
    protected final INDArray wEncT, wDec, bDec;

    protected TrainingSae(SaeSpec spec, int dIn, long seed) {
        this.spec = spec;
        this.dIn = dIn;
        this.dSae = spec.dSae();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("W_enc", new long[] {dSae, dIn}); // transposed: row f is latent f's encoder direction
        shapes.put("W_dec", new long[] {dSae, dIn});
        shapes.putAll(vectorParams());
        shapes.put("b_dec", new long[] {dIn});
        this.p = new ParamSet(shapes);
        this.wEncT = p.get("W_enc");
        this.wDec = p.get("W_dec");
        this.bDec = p.get("b_dec");
        initialize(seed);
    }

    /** The architecture's [d_sae] parameters, in order (b_enc, log_threshold, b_gate...). */
    protected abstract Map<String, long[]> vectorParams();

    /** The SAE for {@code spec} on inputs of width {@code dIn}, initialised from {@code seed}. */
    public static TrainingSae create(SaeSpec spec, int dIn, long seed) {
        return switch (spec.architecture()) {
            case STANDARD -> new StandardTrainingSae(spec, dIn, seed);
            case TOPK -> new TopKTrainingSae(spec, dIn, seed);
            case BATCHTOPK -> new BatchTopKTrainingSae(spec, dIn, seed);
            case JUMPRELU -> new JumpReLUTrainingSae(spec, dIn, seed);
            case GATED -> new GatedTrainingSae(spec, dIn, seed);
        };
    }

    private void initialize(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double bound = Math.sqrt(6.0 / dIn); // kaiming_uniform_ (a = 0, fan_in = d_in)
        float[] w = new float[dSae * dIn];
        for (int i = 0; i < w.length; i++) w[i] = (float) ((2 * rng.nextDouble() - 1) * bound);
        INDArray dec = Nd4j.create(w, new long[] {dSae, dIn}, 'c');
        if (spec.decoderInitNorm() > 0)
            dec.diviColumnVector(dec.norm2(1).reshape(dSae, 1)).muli(spec.decoderInitNorm());
        wDec.assign(dec);
        wEncT.assign(dec); // W_enc = W_dec^T
        initializeVectors();
    }

    /** Sets the architecture's [d_sae] parameters after the matrices (zeros unless overridden). */
    protected void initializeVectors() {}

    public SaeSpec spec() {
        return spec;
    }

    public int dIn() {
        return dIn;
    }

    public ParamSet params() {
        return p;
    }

    /** W_enc [d_in, d_sae] (a transposed view of the stored [d_sae, d_in]). */
    protected INDArray wEnc() {
        return wEncT.transpose();
    }

    /**
     * One step on the batch {@code x} [B, d_in] (already scaled by the activation scaler): the forward
     * pass, the losses, and every parameter's gradient in {@link ParamSet#grads()} (overwritten).
     */
    public abstract StepOutput step(INDArray x, StepContext ctx);

    /** State beyond the parameters that a checkpoint must keep (BatchTopK's running threshold). */
    public Map<String, Double> extraState() {
        return Map.of();
    }

    public void restoreExtraState(Map<String, Double> state) {}

    /**
     * The inference SAE (SAELens's {@code save_inference_model}): architecture-specific folding, then the
     * activation scaling factor folded in ({@code W_enc · s}, {@code W_dec / s}, {@code b_dec / s};
     * normalize_activations becomes none), with {@code metadata}.
     */
    public Sae toInference(double scalingFactor, Map<String, Object> metadata) {
        Map<String, INDArray> t = inferenceTensors();
        if (scalingFactor != 1) {
            t.put("W_enc", t.get("W_enc").mul(scalingFactor));
            t.put("W_dec", t.get("W_dec").div(scalingFactor));
            t.put("b_dec", t.get("b_dec").div(scalingFactor));
        }
        Architecture arch = spec.architecture() == Architecture.BATCHTOPK ? Architecture.JUMPRELU : spec.architecture();
        SaeConfig cfg = new SaeConfig(
                arch,
                dIn,
                dSae,
                "float32",
                spec.applyBDecToInput(),
                Normalization.NONE,
                "none",
                arch == Architecture.TOPK ? spec.k() : 0,
                arch == Architecture.TOPK && spec.rescaleActsByDecoderNorm(),
                metadata);
        return Saes.create(cfg, t, "SAE '" + spec.name() + "'");
    }

    /** Copies of the tensors under SAELens's inference names and shapes (W_enc [d_in, d_sae]). */
    protected Map<String, INDArray> inferenceTensors() {
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("W_enc", wEncT.transpose().dup('c'));
        for (String name : vectorParams().keySet()) t.put(name, p.get(name).dup());
        t.put("W_dec", wDec.dup());
        t.put("b_dec", bDec.dup());
        return t;
    }

    // ------------------------------------------------------------------ shared pieces of a step

    /** {@code x - b_dec} when {@code apply_b_dec_to_input}, else a copy of x: [B, d_in], c order. */
    protected INDArray saeIn(INDArray x) {
        return spec.applyBDecToInput() ? x.subRowVector(bDec) : x.dup('c');
    }

    /** {@code 1 - mean_b ||x - x̂||² / mean_b ||x - mean(x)||²}, from the summed squared error. */
    protected static double explainedVariance(INDArray x, double sumSquaredError) {
        double totalVariance =
                x.castTo(DataType.DOUBLE).var(false, 0).sumNumber().doubleValue();
        return 1 - (sumSquaredError / x.size(0)) / totalVariance;
    }

    /** Per latent, the rows where {@code acts} [B, d_sae] is nonzero. */
    protected static float[] firedColumns(INDArray acts) {
        return acts.neq(0).castTo(DataType.FLOAT).sum(0).toFloatVector();
    }
}
