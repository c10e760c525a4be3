package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.HookNames;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A model's parameters, by TransformerLens name, held in the layout the forward pass multiplies
 * with. Two layouts differ from TransformerLens's, so that each projection is one GEMM:
 * <ul>
 *   <li>{@code attn.W_Q/W_K/W_V} are [d_model, heads * d_head] (TransformerLens: [heads, d_model, d_head]);</li>
 *   <li>{@code attn.b_Q/b_K/b_V} are [heads * d_head] (TransformerLens: [heads, d_head]), and
 *       {@code attn.W_O} is [heads * d_head, d_model] (TransformerLens: [heads, d_head, d_model]).</li>
 * </ul>
 * {@link #stateDict()} shows every tensor in TransformerLens's shapes as views (no copies).
 * <p>
 * Norms after each sublayer ({@link ModelConfig#useNormalizationBeforeAndAfter()}, Gemma 2) add
 * {@code blocks.{l}.ln1_post.w} and {@code ln2_post.w} [d_model], whatever the model's normalization:
 * no later weight can absorb them, so folding leaves them in place (as TransformerLens does).
 */
public final class Weights {
    private final Map<String, INDArray> tensors;

    public Weights(Map<String, INDArray> tensors) {
        this.tensors = new LinkedHashMap<>(tensors);
    }

    public INDArray get(String name) {
        INDArray a = tensors.get(name);
        if (a == null) throw HookNames.unknown("weight", name, tensors.keySet());
        return a;
    }

    /** The tensor, or null when this model has none by that name (e.g. a bias that is off). */
    public INDArray find(String name) {
        return tensors.get(name);
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    public Map<String, INDArray> asMap() {
        return Collections.unmodifiableMap(tensors);
    }

    /** The expected compute-layout shape of every parameter a model with this config has. */
    public static Map<String, long[]> expectedShapes(ModelConfig c) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long d = c.dModel(), q = (long) c.nHeads() * c.dHead(), kv = (long) c.nKvHeads() * c.dHead();
        s.put("embed.W_E", new long[] {c.dVocab(), d});
        if (c.positional() == ModelConfig.Positional.LEARNED) s.put("pos_embed.W_pos", new long[] {c.nCtx(), d});
        for (int l = 0; l < c.nLayers(); l++) {
            String b = "blocks." + l + ".";
            norm(s, b + "ln1", c);
            s.put(b + "attn.W_Q", new long[] {d, q});
            s.put(b + "attn.W_K", new long[] {d, kv});
            s.put(b + "attn.W_V", new long[] {d, kv});
            if (c.biases().qkv()) {
                s.put(b + "attn.b_Q", new long[] {q});
                s.put(b + "attn.b_K", new long[] {kv});
                s.put(b + "attn.b_V", new long[] {kv});
            }
            switch (c.qkNorm()) {
                case NONE -> {}
                case PER_HEAD -> {
                    s.put(b + "attn.q_norm.w", new long[] {c.dHead()});
                    s.put(b + "attn.k_norm.w", new long[] {c.dHead()});
                }
                case ALL_HEADS -> {
                    s.put(b + "attn.q_norm.w", new long[] {q});
                    s.put(b + "attn.k_norm.w", new long[] {kv});
                }
            }
            s.put(b + "attn.W_O", new long[] {q, d});
            if (c.biases().attnOut()) s.put(b + "attn.b_O", new long[] {d});
            if (c.useNormalizationBeforeAndAfter()) s.put(b + "ln1_post.w", new long[] {d});
            if (!c.attnOnly()) {
                norm(s, b + "ln2", c);
                if (c.activation().gated()) s.put(b + "mlp.W_gate", new long[] {d, c.dMlp()});
                s.put(b + "mlp.W_in", new long[] {d, c.dMlp()});
                if (c.biases().mlpIn()) s.put(b + "mlp.b_in", new long[] {c.dMlp()});
                s.put(b + "mlp.W_out", new long[] {c.dMlp(), d});
                if (c.biases().mlpOut()) s.put(b + "mlp.b_out", new long[] {d});
                if (c.useNormalizationBeforeAndAfter()) s.put(b + "ln2_post.w", new long[] {d});
            }
        }
        norm(s, "ln_final", c);
        if (!c.tiedEmbeddings()) s.put("unembed.W_U", new long[] {d, c.dVocab()});
        if (c.biases().unembed()) s.put("unembed.b_U", new long[] {c.dVocab()});
        return s;
    }

    private static void norm(Map<String, long[]> s, String prefix, ModelConfig c) {
        if (!c.normalization().hasWeights()) return;
        s.put(prefix + ".w", new long[] {c.dModel()});
        if (c.normalization() == ModelConfig.Normalization.LAYER_NORM) s.put(prefix + ".b", new long[] {c.dModel()});
    }

    /** Checks names, shapes and dtype against the config; the error names the tensor. */
    public void validate(ModelConfig c, String source) {
        DataType want = dataType(c);
        Map<String, long[]> expected = expectedShapes(c);
        for (var e : expected.entrySet()) {
            INDArray a = tensors.get(e.getKey());
            if (a == null)
                throw new LoupeException(source + ": missing weight '" + e.getKey() + "' (expected shape "
                        + Arrays.toString(e.getValue()) + ")");
            if (!Arrays.equals(a.shape(), e.getValue()))
                throw new LoupeException(
                        source + ": weight '" + e.getKey() + "' has shape " + Arrays.toString(a.shape()) + ", expected "
                                + Arrays.toString(e.getValue()) + " for this config");
            if (a.dataType() != want)
                throw new LoupeException(
                        source + ": weight '" + e.getKey() + "' is " + a.dataType() + ", expected " + want);
        }
        for (String n : tensors.keySet())
            if (!expected.containsKey(n))
                throw new LoupeException(source + ": unexpected weight '" + n + "' for this config");
    }

    public static DataType dataType(ModelConfig c) {
        return c.dtype().equals("float64") ? DataType.DOUBLE : DataType.FLOAT;
    }

    /**
     * Random weights initialised as TransformerLens does for GPT-2 (normal, std 0.02; norms 1, biases 0).
     * With {@code perturbAll}, norm weights and biases are random too: tests use that so that
     * folding and gradients are exercised on every parameter.
     */
    public static Weights random(ModelConfig c, long seed, boolean perturbAll) {
        return random(c, seed, perturbAll, perturbAll ? 0.2 : 0.02);
    }

    /**
     * Random weights for training from scratch, as TransformerLens's {@code init_weights} draws them:
     * matrices normal with std {@code initRange}, or, for 0, TransformerLens's default
     * 0.8 / sqrt(d_model) (0.029 for GPT-2 small's width, larger for narrow toy models); norm scales 1, biases 0.
     */
    public static Weights forTraining(ModelConfig c, long seed, double initRange) {
        return random(c, seed, false, initRange > 0 ? initRange : 0.8 / Math.sqrt(c.dModel()));
    }

    private static Weights random(ModelConfig c, long seed, boolean perturbAll, double std) {
        DataType t = dataType(c);
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, INDArray> m = new LinkedHashMap<>();
        expectedShapes(c).forEach((name, shape) -> {
            boolean isNormWeight = name.endsWith(".w");
            boolean isBias = name.contains(".b_") || name.endsWith(".b");
            INDArray a;
            if (isNormWeight) a = perturbAll ? normal(rng, t, shape, 1, 0.1) : Nd4j.ones(t, shape);
            else if (isBias) a = perturbAll ? normal(rng, t, shape, 0, 0.1) : Nd4j.zeros(t, shape);
            else a = normal(rng, t, shape, 0, std);
            m.put(name, a);
        });
        return new Weights(m);
    }

    /**
     * Normal draws by Box-Muller over SplittableRandom with StrictMath: the same weights from the same
     * seed on every JVM, CPU and backend. ND4J's generators did not give that: two runs seeded alike
     * drew different weights (measured, for Nd4j.getRandom().setSeed and for a fresh seeded instance).
     * A one-off Java loop, at ~15 ns per value: initialisation is not a hot path.
     */
    private static INDArray normal(SplittableRandom rng, DataType t, long[] shape, double mean, double std) {
        int n = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
        boolean f64 = t == DataType.DOUBLE;
        double[] d = f64 ? new double[n] : null;
        float[] f = f64 ? null : new float[n];
        double radius = 0, angle = 0;
        for (int i = 0; i < n; i++) {
            double z;
            if (i % 2 == 0) {
                radius = StrictMath.sqrt(-2 * StrictMath.log(1 - rng.nextDouble())); // 1 - u in (0, 1]
                angle = 2 * StrictMath.PI * rng.nextDouble();
                z = radius * StrictMath.cos(angle);
            } else {
                z = radius * StrictMath.sin(angle);
            }
            if (f64) d[i] = mean + std * z;
            else f[i] = (float) (mean + std * z);
        }
        return (f64 ? Nd4j.createFromArray(d) : Nd4j.createFromArray(f)).reshape('c', shape);
    }

    /**
     * Every tensor under its TransformerLens name and shape, as views of the compute layout (no
     * copies): W_Q [heads, d_model, d_head], b_Q [heads, d_head], W_O [heads, d_head, d_model].
     */
    public Map<String, INDArray> stateDict(ModelConfig c) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        tensors.forEach((n, a) -> out.put(n, toTransformerLensLayout(n, a, c)));
        return out;
    }

    public static INDArray toTransformerLensLayout(String name, INDArray a, ModelConfig c) {
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        long d = c.dModel(), dh = c.dHead();
        return switch (leaf) {
            case "W_Q", "W_K", "W_V" -> a.reshape('c', d, a.size(1) / dh, dh).permute(1, 0, 2);
            case "b_Q", "b_K", "b_V" -> a.reshape('c', a.size(0) / dh, dh);
            case "W_O" -> a.reshape('c', a.size(0) / dh, dh, d);
            default -> a;
        };
    }

    /** The TransformerLens shape of a weight whose compute-layout shape is {@code shape}. */
    public static long[] transformerLensShape(String name, long[] shape, ModelConfig c) {
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        long dh = c.dHead();
        return switch (leaf) {
            case "W_Q", "W_K", "W_V" -> new long[] {shape[1] / dh, shape[0], dh};
            case "b_Q", "b_K", "b_V" -> new long[] {shape[0] / dh, dh};
            case "W_O" -> new long[] {shape[0] / dh, dh, shape[1]};
            default -> shape;
        };
    }

    /** The inverse of {@link #toTransformerLensLayout}: copies only when the layout must change. */
    public static INDArray fromTransformerLensLayout(String name, INDArray a, ModelConfig c) {
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        return switch (leaf) {
            case "W_Q", "W_K", "W_V" -> a.permute(1, 0, 2).dup('c').reshape('c', a.size(1), a.size(0) * a.size(2));
            case "b_Q", "b_K", "b_V" -> a.reshape('c', new long[] {a.length()});
            case "W_O" -> a.reshape('c', a.size(0) * a.size(1), a.size(2));
            default -> a;
        };
    }
}
