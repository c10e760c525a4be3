package dev.loupe.engine.autograd;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The fused native kernels (engine/src/main/c), for the steps that ND4J runs as many passes over
 * memory: causal self-attention for every sequence and head (scores, mask, softmax and the weighted
 * sum of values, and their backward, per (sequence, head) in tiles that stay in cache and skip the
 * masked upper triangle), GPT-2's GELU (one pass forward, one back, instead of nine) and LayerNorm
 * (one pass each way instead of about fifteen). In a training step of the text model the ND4J
 * attention took ~30% of the time, GELU ~10% and LayerNorm with its column sums ~10%.
 *
 * <p>The library is built from C by the engine's Maven build when a C compiler is present (Linux on
 * x86-64 with AVX2 and FMA). {@link #available()} says whether this JVM has it; without it the
 * engine runs the ND4J compositions, whose float rounding differs in the last bits. The results are
 * fixed by the C source alone (see vector_math.h), so a training run replays bit for bit wherever
 * the library loads.
 */
public final class NativeKernels {
    private NativeKernels() {}

    private static final String LIBRARY = "/dev/loupe/engine/native/linux-x86_64/libloupe-kernels.so";

    /** Why the kernels are not used in this JVM, or null when they are. */
    private static final String UNAVAILABLE = load();

    /** Whether the kernels loaded in this JVM (and {@code -Dloupe.kernels=nd4j} does not turn them off). */
    public static boolean available() {
        return UNAVAILABLE == null;
    }

    /** Why {@link #available()} is false ({@code null} when it is true). */
    public static String unavailableBecause() {
        return UNAVAILABLE;
    }

    private static String load() {
        if ("nd4j".equals(System.getProperty("loupe.kernels"))) return "-Dloupe.kernels=nd4j";
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT),
                arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64")))
            return "no kernels built for " + os + "/" + arch;
        if (!Nd4j.getBackend().getClass().getSimpleName().equals("CpuBackend"))
            return "the ND4J backend is " + Nd4j.getBackend().getClass().getSimpleName() + ", not the CPU";
        try {
            String flags = Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("flags"))
                    .findFirst()
                    .orElse("");
            if (!(flags.contains(" avx2") && flags.contains(" fma"))) return "this processor lacks AVX2 or FMA";
        } catch (IOException e) {
            return "cannot read /proc/cpuinfo: " + e.getMessage();
        }
        try (InputStream in = NativeKernels.class.getResourceAsStream(LIBRARY)) {
            if (in == null) return "the engine was built without a C compiler (no " + LIBRARY + ")";
            Path file = Files.createTempFile("loupe-kernels", ".so");
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            System.load(file.toString());
            return null;
        } catch (IOException | UnsatisfiedLinkError e) {
            return "the kernels did not load: " + e.getMessage();
        }
    }

    /**
     * z [B, T, H, d] = softmax(alpha q k^T, causal) v, writing each head's pattern into p [B, H, T, T].
     * q [B, T, H, d], k and v [B, T, K, d] with H a multiple of K; float32, c-order, default strides.
     */
    static void attentionForward(INDArray q, INDArray k, INDArray v, INDArray z, INDArray p, float alpha) {
        int B = (int) q.size(0), T = (int) q.size(1), H = (int) q.size(2), K = (int) k.size(2), d = (int) q.size(3);
        long aq = address(q), ak = address(k), av = address(v), az = address(z), ap = address(p);
        byRanges(B, (b0, b1) -> check(attentionForward(aq, ak, av, az, ap, b0, b1, T, H, K, d, alpha)));
    }

    /** The backward of {@link #attentionForward}: dq, dk, dv (overwritten) from the pattern p and dz. */
    static void attentionBackward(
            INDArray q,
            INDArray k,
            INDArray v,
            INDArray p,
            INDArray dz,
            INDArray dq,
            INDArray dk,
            INDArray dv,
            float alpha) {
        int B = (int) q.size(0), T = (int) q.size(1), H = (int) q.size(2), K = (int) k.size(2), d = (int) q.size(3);
        long aq = address(q), ak = address(k), av = address(v), ap = address(p), adz = address(dz);
        long adq = address(dq), adk = address(dk), adv = address(dv);
        byRanges(
                B, (b0, b1) -> check(attentionBackward(aq, ak, av, ap, adz, adq, adk, adv, b0, b1, T, H, K, d, alpha)));
    }

    /** y = gelu_new(x) and s = sigmoid(2u) for the backward; float32 arrays of one length. */
    static void geluForward(INDArray x, INDArray y, INDArray s) {
        long ax = address(x), ay = address(y), as = address(s);
        byRanges(x.length(), (from, to) -> geluForward(ax, ay, as, from, to));
    }

    /** dx = g * gelu_new'(x), from the forward's s. */
    static void geluBackward(INDArray x, INDArray s, INDArray g, INDArray dx) {
        long ax = address(x), as = address(s), ag = address(g), adx = address(dx);
        byRanges(x.length(), (from, to) -> geluBackward(ax, as, ag, adx, from, to));
    }

    /**
     * LayerNorm of the rows of x [m, n]: y = x̂ w + b (b may be null), keeping x̂ [m, n] and 1 / scale
     * [m] for the backward. One thread: a row is ~0.1 µs of work.
     */
    static void layerNormForward(
            INDArray x, INDArray w, INDArray b, INDArray y, INDArray xHat, INDArray rScale, float eps) {
        layerNormForward(
                address(x),
                address(w),
                b == null ? 0 : address(b),
                address(y),
                address(xHat),
                address(rScale),
                x.size(0),
                (int) x.size(1),
                eps);
    }

    /** The backward of {@link #layerNormForward}: dx, dw, db (each may be null: not computed) from g. */
    static void layerNormBackward(
            INDArray g, INDArray w, INDArray xHat, INDArray rScale, INDArray dx, INDArray dw, INDArray db) {
        check(layerNormBackward(
                address(g),
                address(w),
                address(xHat),
                address(rScale),
                dx == null ? 0 : address(dx),
                dw == null ? 0 : address(dw),
                db == null ? 0 : address(db),
                g.size(0),
                (int) g.size(1)));
    }

    private interface Range {
        void run(int from, int to);
    }

    /**
     * Runs a kernel over [0, n) (sequences, or elements) in as many parts as this thread's OpenMP
     * setting allows: one inside a training shard (which already has its core), all cores in a plain run.
     */
    private static void byRanges(long n, Range kernel) {
        int threads = (int)
                Math.min(n, NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads());
        if (threads <= 1) {
            kernel.run(0, Math.toIntExact(n));
            return;
        }
        IntStream.range(0, threads)
                .parallel()
                .forEach(i -> kernel.run((int) (n * i / threads), (int) (n * (i + 1) / threads)));
    }

    private static void check(int status) {
        if (status != 0) throw new OutOfMemoryError("a native kernel could not allocate its scratch memory");
    }

    /** {@code a} itself when the kernels can read it in place ({@link #readsInPlace}), else a c-ordered copy. */
    static INDArray readable(INDArray a) {
        return readsInPlace(a) ? a : a.dup('c');
    }

    /** Whether the kernels can read or write {@code a} in place: float32, c-order, default strides, no offset. */
    static boolean readsInPlace(INDArray a) {
        if (a.dataType() != DataType.FLOAT || a.offset() != 0) return false;
        long expected = 1; // c-order strides; a dimension of size 1 may have any stride
        for (int i = a.rank() - 1; i >= 0; i--) {
            if (a.size(i) > 1 && a.stride(i) != expected) return false;
            expected *= a.size(i);
        }
        return true;
    }

    private static long address(INDArray a) {
        if (!readsInPlace(a))
            throw new IllegalArgumentException(
                    "the native kernels need float32 c-order arrays with default strides, got "
                            + a.shapeInfoToString());
        return a.data().addressPointer().address();
    }

    private static native int attentionForward(
            long q, long k, long v, long z, long p, int b0, int b1, int T, int H, int K, int d, float alpha);

    private static native int attentionBackward(
            long q,
            long k,
            long v,
            long p,
            long dz,
            long dq,
            long dk,
            long dv,
            int b0,
            int b1,
            int T,
            int H,
            int K,
            int d,
            float alpha);

    private static native void geluForward(long x, long y, long s, long from, long to);

    private static native void geluBackward(long x, long s, long g, long dx, long from, long to);

    private static native void layerNormForward(
            long x, long w, long b, long y, long xHat, long rScale, long m, int n, float eps);

    private static native int layerNormBackward(
            long g, long w, long xHat, long rScale, long dx, long dw, long db, long m, int n);
}
