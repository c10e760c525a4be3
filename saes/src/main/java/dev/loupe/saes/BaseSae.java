package dev.loupe.saes;

import dev.loupe.engine.LoupeException;
import dev.loupe.saes.kernels.SparseCodes;
import dev.loupe.saes.kernels.SparseOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What every architecture shares, as SAELens's {@code SAE} base class: the input processing
 * ({@code process_sae_in}: normalization, then {@code - b_dec} when {@code apply_b_dec_to_input}), the
 * linear decoder ({@code acts @ W_dec + b_dec}, then undoing the normalization), reshaping
 * {@code hook_z} inputs, and the weights. Subclasses say how pre-activations become latents.
 */
abstract class BaseSae implements Sae {
    protected final SaeConfig config;
    protected final INDArray wEnc, wDec, bDec; // [d_in, d_sae], [d_sae, d_in], [d_in]
    private final Map<String, INDArray> tensors;
    private volatile Normalizer.Context lastNormalization; // SAELens keeps it on the module between encode and decode

    /**
     * @param tensors every tensor under its SAELens name (any float dtype; kept as float32)
     * @param where   what to name in errors (a file, a folder)
     */
    protected BaseSae(SaeConfig config, Map<String, INDArray> tensors, String where) {
        this.config = config;
        Map<String, long[]> expected = expectedShapes(config);
        Map<String, INDArray> t = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        for (var e : expected.entrySet()) {
            INDArray a = tensors.get(e.getKey());
            if (a == null) {
                missing.add(e.getKey());
                continue;
            }
            if (!Arrays.equals(a.shape(), e.getValue()))
                throw new LoupeException(where + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(a.shape())
                        + ", expected " + Arrays.toString(e.getValue()) + " for " + config.describe());
            t.put(e.getKey(), a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT));
        }
        if (!missing.isEmpty())
            throw new LoupeException(where + ": missing tensor(s) " + missing + " of a "
                    + config.architecture().saeLensName() + " SAE (expected " + expected.keySet() + ")");
        for (String name : tensors.keySet())
            if (!expected.containsKey(name))
                throw new LoupeException(where + ": unexpected tensor '" + name + "' for a "
                        + config.architecture().saeLensName() + " SAE (expected " + expected.keySet() + ")");
        this.tensors = java.util.Collections.unmodifiableMap(t);
        this.wEnc = t.get("W_enc");
        this.wDec = t.get("W_dec");
        this.bDec = t.get("b_dec");
    }

    /** The tensors an SAE of this config has, with their shapes, in SAELens's order. */
    public static Map<String, long[]> expectedShapes(SaeConfig c) {
        long din = c.dIn(), dsae = c.dSae();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("W_enc", new long[] {din, dsae});
        if (c.architecture() == Architecture.GATED) {
            m.put("b_gate", new long[] {dsae});
            m.put("b_mag", new long[] {dsae});
            m.put("r_mag", new long[] {dsae});
        } else {
            m.put("b_enc", new long[] {dsae});
        }
        m.put("W_dec", new long[] {dsae, din});
        m.put("b_dec", new long[] {din});
        if (c.architecture() == Architecture.JUMPRELU) m.put("threshold", new long[] {dsae});
        return m;
    }

    @Override
    public SaeConfig config() {
        return config;
    }

    @Override
    public INDArray W_enc() {
        return wEnc;
    }

    @Override
    public INDArray W_dec() {
        return wDec;
    }

    @Override
    public INDArray b_dec() {
        return bDec;
    }

    @Override
    public INDArray b_enc() {
        return tensors.get("b_enc");
    }

    protected INDArray tensor(String name) {
        return tensors.get(name);
    }

    @Override
    public Map<String, INDArray> stateDict() {
        return tensors;
    }

    // ------------------------------------------------------------------ the pass

    /** Pre-activations and latents of processed inputs {@code saeIn} [n, d_in]. */
    protected abstract Latents latents(INDArray saeIn);

    /** What {@link #latents} computes: {@code codes} only for sparse architectures. */
    protected record Latents(INDArray pre, INDArray post, SparseCodes codes) {}

    /** How latent activations are scaled before the decoder (TopK with rescaling divides by the decoder norms). */
    protected INDArray decoderInput(INDArray acts) {
        return acts;
    }

    @Override
    public INDArray encode(INDArray x) {
        Rows rows = Rows.of(x, config, "SAE input");
        Normalizer.Context norm = Normalizer.in(config, rows.matrix());
        lastNormalization = norm;
        return rows.restore(latents(processed(norm.normalized())).post(), config.dSae());
    }

    @Override
    public INDArray decode(INDArray featureActs) {
        Rows rows = Rows.ofLatents(featureActs, config);
        Normalizer.Context norm = lastNormalization;
        INDArray recons = linearDecode(rows.matrix(), null);
        INDArray out =
                norm != null && norm.rows() == recons.size(0) ? norm.out(recons) : Normalizer.plain(config, recons);
        return rows.restoreInput(out, config);
    }

    @Override
    public INDArray forward(INDArray x) {
        Rows rows = Rows.of(x, config, "SAE input");
        return rows.restoreInput(run(rows.matrix()).output(), config);
    }

    @Override
    public SaePass run(INDArray x) {
        Rows rows = Rows.of(x, config, "SAE input");
        INDArray input = rows.matrix();
        Normalizer.Context norm = Normalizer.in(config, input);
        Latents l = latents(processed(norm.normalized()));
        INDArray recons = linearDecode(l.post(), l.codes());
        return new SaePass(input, l.pre(), l.post(), l.codes(), recons, norm.out(recons), norm::out);
    }

    @Override
    public INDArray decode(INDArray featureActs, SaePass pass) {
        Rows rows = Rows.ofLatents(featureActs, config);
        return pass.unnormalize().apply(linearDecode(rows.matrix(), null));
    }

    /** {@code process_sae_in} after normalization: subtract {@code b_dec} when {@code apply_b_dec_to_input}. */
    protected INDArray processed(INDArray normalized) {
        return config.applyBDecToInput() ? normalized.subRowVector(bDec) : normalized;
    }

    /** {@code decoderInput(acts) @ W_dec + b_dec}, through the sparse codes when there are some. */
    protected INDArray linearDecode(INDArray acts, SparseCodes codes) {
        long n = codes != null ? codes.rows() : acts.size(0);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {n, config.dIn()}, 'c');
        out.assign(bDec.reshape(1, config.dIn()).broadcast(n, config.dIn()));
        if (codes != null) SparseOps.decodeInto(codes, sparseDecoderCoefficients(codes), wDec, out);
        else Nd4j.gemm(decoderInput(acts), wDec, out, false, false, 1.0, 1.0);
        return out;
    }

    /** The coefficient of each sparse entry in the decoder (its activation, scaled as {@link #decoderInput} scales). */
    protected float[] sparseDecoderCoefficients(SparseCodes codes) {
        return codes.value();
    }

    /** The L2 norm of every decoder row [d_sae]. */
    public INDArray decoderNorms() {
        return wDec.norm2(1);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + config.describe() + ")";
    }
}
