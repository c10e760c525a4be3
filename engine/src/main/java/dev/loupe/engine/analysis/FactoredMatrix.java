package dev.loupe.engine.analysis;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import java.util.Arrays;
import java.util.Map;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * TransformerLens's {@code FactoredMatrix}: a matrix kept as the product {@code A B} of a [...,
 * ldim, mdim] and a [..., mdim, rdim] factor (leading dimensions such as [layer, head] shared), so
 * that low-rank products like a head's OV circuit {@code W_V W_O} (d_model x d_model, rank d_head)
 * are never formed unless asked ({@link #ab()}). Products, transpose, SVD, eigenvalues, the
 * Frobenius norm and composition scores work on the factors. Factors are held in float64.
 * <pre>{@code
 * FactoredMatrix ov = FactoredMatrix.ov(model);            // [n_layers, n_heads, d_model, d_model]
 * FactoredMatrix full = ov.get(1, 4).rmatmul(wE).matmul(wU); // W_E OV W_U of head L1H4, still factored
 * INDArray s = ov.get(1, 4).svd().s();                     // its singular values
 * INDArray k = FactoredMatrix.allCompositionScores(model, "K"); // [layer, head, layer, head]
 * }</pre>
 */
public final class FactoredMatrix {
    private final INDArray a, b; // [..., l, m], [..., m, r], float64, same leading dimensions
    private final long[] leading;
    private final long ldim, mdim, rdim;
    private Svd svd;

    /** The product of {@code a} [..., ldim, mdim] and {@code b} [..., mdim, rdim]; leading dimensions broadcast. */
    public FactoredMatrix(INDArray a, INDArray b) {
        if (a.rank() < 2 || b.rank() < 2)
            throw new LoupeException("factored matrix: factors must be matrices, got shapes "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        if (last(a, 1) != last(b, 2))
            throw new LoupeException("factored matrix: inner dimensions differ, A " + Arrays.toString(a.shape())
                    + ", B " + Arrays.toString(b.shape()));
        long[] la = Arrays.copyOf(a.shape(), a.rank() - 2), lb = Arrays.copyOf(b.shape(), b.rank() - 2);
        this.leading = broadcast(la, lb, a, b);
        this.ldim = last(a, 2);
        this.mdim = last(a, 1);
        this.rdim = last(b, 1);
        this.a = expand(a.castTo(DataType.DOUBLE), leading);
        this.b = expand(b.castTo(DataType.DOUBLE), leading);
    }

    /** Every head's OV circuit {@code W_V[l, h] W_O[l, h]}: [n_layers, n_heads, d_model, d_model] (TransformerLens's {@code model.OV}). */
    public static FactoredMatrix ov(HookedTransformer model) {
        return new FactoredMatrix(stacked(model, "W_V", true), stacked(model, "W_O", false));
    }

    /** Every head's QK circuit {@code W_Q[l, h] W_K[l, h]^T}: [n_layers, n_heads, d_model, d_model] ({@code model.QK}). */
    public static FactoredMatrix qk(HookedTransformer model) {
        INDArray k = stacked(model, "W_K", true); // [L, H, d_model, d_head]
        return new FactoredMatrix(
                stacked(model, "W_Q", false), k.permute(0, 1, 3, 2).dup('c'));
    }

    /**
     * {@code all_composition_scores}: how much each head's output feeds each later head's query
     * ({@code "Q"}), key ({@code "K"}) or value ({@code "V"}), [layer, head, layer, head]; 0 unless
     * the second head's layer is later.
     */
    public static INDArray allCompositionScores(HookedTransformer model, String mode) {
        FactoredMatrix left = ov(model), right;
        switch (mode) {
            case "Q" -> right = qk(model);
            case "K" -> right = qk(model).t();
            case "V" -> right = ov(model);
            default -> throw new LoupeException("composition scores: mode must be Q, K or V, not '" + mode + "'");
        }
        INDArray scores = compositionScores(left, right);
        int L = model.config().nLayers();
        for (int l1 = 0; l1 < L; l1++)
            for (int l2 = 0; l2 <= l1; l2++)
                scores.get(NDArrayIndex.point(l1), NDArrayIndex.all(), NDArrayIndex.point(l2), NDArrayIndex.all())
                        .assign(0);
        return scores;
    }

    /**
     * {@code utils.composition_scores}: {@code ||L R|| / (||L|| ||R||)} (Frobenius) of the left
     * matrix's collapsed right side and the right matrix's collapsed left side, for every pair of
     * their leading indices: [left's leading..., right's leading...]. Needs {@code left.rdim ==
     * right.ldim}.
     */
    public static INDArray compositionScores(FactoredMatrix left, FactoredMatrix right) {
        if (left.rdim != right.ldim)
            throw new LoupeException("composition scores need left.rdim == right.ldim, got " + left + " and " + right);
        INDArray l = left.collapseL(); // [nl..., m, r]
        INDArray r = right.collapseR(); // [nr..., l, m]
        long nl = count(left.leading), nr = count(right.leading);
        long ml = l.size(l.rank() - 2), mr = r.size(r.rank() - 1); // the ranks kept by the SVDs
        INDArray lf = l.reshape('c', nl, ml, left.rdim), rf = r.reshape('c', nr, right.ldim, mr);
        double[] lNorm = new double[(int) nl], rNorm = new double[(int) nr];
        for (int i = 0; i < nl; i++) lNorm[i] = lf.slice(i).norm2Number().doubleValue();
        for (int j = 0; j < nr; j++) rNorm[j] = rf.slice(j).norm2Number().doubleValue();
        // [r_dim, nr * mr]: every right matrix side by side, so each left matrix is one GEMM against all of them
        INDArray rAll = rf.permute(1, 0, 2).dup('c').reshape('c', right.ldim, nr * mr);
        INDArray out = Nd4j.create(DataType.DOUBLE, nl, nr);
        for (int i = 0; i < nl; i++) {
            INDArray prod = lf.slice(i).mmul(rAll).reshape('c', ml, nr, mr); // [ml, nr, mr]
            INDArray sq = prod.mul(prod).sum(0, 2); // [nr]
            for (int j = 0; j < nr; j++) out.putScalar(i, j, Math.sqrt(sq.getDouble(j)) / lNorm[i] / rNorm[j]);
        }
        long[] shape = new long[left.leading.length + right.leading.length];
        System.arraycopy(left.leading, 0, shape, 0, left.leading.length);
        System.arraycopy(right.leading, 0, shape, left.leading.length, right.leading.length);
        return shape.length == 0 ? out.reshape(1) : out.reshape('c', shape);
    }

    // ------------------------------------------------------------------ shape

    /** The leading dimensions and [ldim, rdim]. */
    public long[] shape() {
        long[] s = Arrays.copyOf(leading, leading.length + 2);
        s[leading.length] = ldim;
        s[leading.length + 1] = rdim;
        return s;
    }

    public long ldim() {
        return ldim;
    }

    public long mdim() {
        return mdim;
    }

    public long rdim() {
        return rdim;
    }

    /** The factors {@code A} [..., ldim, mdim] and {@code B} [..., mdim, rdim] (TransformerLens's {@code pair}). */
    public INDArray a() {
        return a;
    }

    public INDArray b() {
        return b;
    }

    /** The matrix at leading indices ({@code ov.get(1, 4)}: head L1H4). */
    public FactoredMatrix get(long... index) {
        if (index.length > leading.length)
            throw new LoupeException(
                    "factored matrix: " + index.length + " indices for leading dimensions " + Arrays.toString(leading));
        INDArrayIndex[] idx = new INDArrayIndex[index.length];
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= leading[i])
                throw new LoupeException("factored matrix: index " + index[i] + " is out of range 0.."
                        + (leading[i] - 1) + " for leading dimension " + i);
            idx[i] = NDArrayIndex.point(index[i]);
        }
        return new FactoredMatrix(a.get(idx).dup('c'), b.get(idx).dup('c'));
    }

    // ------------------------------------------------------------------ products

    /** The product matrix {@code A B} [..., ldim, rdim] (large: formed only when asked). */
    public INDArray ab() {
        return batched(a, b);
    }

    /** {@code B A} [..., mdim, mdim] (needs ldim == rdim): same non-zero eigenvalues as {@code A B}. */
    public INDArray ba() {
        if (ldim != rdim) throw new LoupeException("factored matrix: BA needs ldim == rdim, shape " + this);
        return batched(b, a);
    }

    /** The transpose {@code B^T A^T}. */
    public FactoredMatrix t() {
        return new FactoredMatrix(swapLast(b), swapLast(a));
    }

    /** {@code this @ other} for a matrix [..., rdim, n], kept factored through the smaller inner dimension. */
    public FactoredMatrix matmul(INDArray other) {
        if (last(other, 2) != rdim)
            throw new LoupeException("factored matrix: right operand " + Arrays.toString(other.shape())
                    + " does not match rdim " + rdim);
        INDArray o = expand(other.castTo(DataType.DOUBLE), leading);
        return rdim > mdim ? new FactoredMatrix(a, batched(b, o)) : new FactoredMatrix(ab(), o);
    }

    /** {@code this @ other}, both factored. */
    public FactoredMatrix matmul(FactoredMatrix other) {
        return matmul(other.a).matmul(other.b);
    }

    /** {@code other @ this} for a matrix [..., n, ldim]. */
    public FactoredMatrix rmatmul(INDArray other) {
        if (last(other, 1) != ldim)
            throw new LoupeException(
                    "factored matrix: left operand " + Arrays.toString(other.shape()) + " does not match ldim " + ldim);
        INDArray o = expand(other.castTo(DataType.DOUBLE), leading);
        return ldim > mdim ? new FactoredMatrix(batched(o, a), b) : new FactoredMatrix(o, ab());
    }

    /** {@code this @ v} for a vector [rdim]: [..., ldim]. */
    public INDArray apply(INDArray v) {
        if (v.rank() != 1 || v.length() != rdim)
            throw new LoupeException("factored matrix: vector of length " + v.length() + ", expected " + rdim);
        return batched(a, batched(b, expand(v.castTo(DataType.DOUBLE).reshape(rdim, 1), leading)))
                .reshape(concat(leading, ldim));
    }

    /** A scalar multiple (the scalar goes into A). */
    public FactoredMatrix times(double scalar) {
        return new FactoredMatrix(a.mul(scalar), b);
    }

    // ------------------------------------------------------------------ decompositions

    /** Singular values and vectors: {@code A B == U diag(S) V^T}, U [..., ldim, k], S [..., k], V [..., rdim, k]. */
    public record Svd(INDArray u, INDArray s, INDArray v) {}

    /**
     * The SVD of {@code A B} from the SVDs of the factors and of the small middle matrix (as
     * TransformerLens), without forming {@code A B}; k = min(ldim, mdim, rdim) components. Cached.
     */
    public Svd svd() {
        if (svd != null) return svd;
        long n = count(leading);
        INDArray af = a.reshape('c', n, ldim, mdim), bf = b.reshape('c', n, mdim, rdim);
        long k = Math.min(Math.min(ldim, mdim), rdim);
        INDArray u = Nd4j.create(DataType.DOUBLE, n, ldim, k),
                s = Nd4j.create(DataType.DOUBLE, n, k),
                v = Nd4j.create(DataType.DOUBLE, n, rdim, k);
        for (int i = 0; i < n; i++) {
            SingularValueDecomposition sa = new SingularValueDecomposition(matrix(af.slice(i)));
            SingularValueDecomposition sb = new SingularValueDecomposition(matrix(bf.slice(i)));
            // middle = diag(Sa) Va^T Ub diag(Sb)
            RealMatrix middle =
                    sa.getS().multiply(sa.getVT()).multiply(sb.getU()).multiply(sb.getS());
            SingularValueDecomposition sm = new SingularValueDecomposition(middle);
            RealMatrix ui = sa.getU().multiply(sm.getU()), vi = sb.getV().multiply(sm.getV());
            double[] si = sm.getSingularValues();
            for (int c = 0; c < k; c++) {
                s.putScalar(i, c, si[c]);
                for (int r = 0; r < ldim; r++) u.putScalar(new long[] {i, r, c}, ui.getEntry(r, c));
                for (int r = 0; r < rdim; r++) v.putScalar(new long[] {i, r, c}, vi.getEntry(r, c));
            }
        }
        svd = new Svd(
                u.reshape('c', concat(leading, ldim, k)),
                s.reshape('c', concat(leading, k)),
                v.reshape('c', concat(leading, rdim, k)));
        return svd;
    }

    /** Eigenvalues of {@code A B} (those of {@code B A}, [..., mdim]), as real and imaginary parts, in no particular order. */
    public record Eigenvalues(INDArray real, INDArray imag) {}

    public Eigenvalues eigenvalues() {
        INDArray ba = ba();
        long n = count(leading);
        INDArray baf = ba.reshape('c', n, mdim, mdim);
        INDArray re = Nd4j.create(DataType.DOUBLE, n, mdim), im = Nd4j.create(DataType.DOUBLE, n, mdim);
        for (int i = 0; i < n; i++) {
            EigenDecomposition e = new EigenDecomposition(matrix(baf.slice(i)));
            double[] r = e.getRealEigenvalues(), m = e.getImagEigenvalues();
            for (int c = 0; c < mdim; c++) {
                re.putScalar(i, c, r[c]);
                im.putScalar(i, c, m[c]);
            }
        }
        return new Eigenvalues(re.reshape('c', concat(leading, mdim)), im.reshape('c', concat(leading, mdim)));
    }

    /** The Frobenius norm of {@code A B}, [...]: {@code sqrt(sum((A^T A) * (B B^T)))}, without forming {@code A B}. */
    public INDArray norm() {
        INDArray ata = batched(swapLast(a), a), bbt = batched(b, swapLast(b)); // [..., m, m] each
        INDArray sq = ata.mul(bbt).sum(ata.rank() - 2, ata.rank() - 1);
        return org.nd4j.linalg.ops.transforms.Transforms.sqrt(sq, false);
    }

    /** The same matrix factored as {@code U sqrt(S)} and {@code sqrt(S) V^T}: balanced, orthogonal columns and rows. */
    public FactoredMatrix makeEven() {
        Svd d = svd();
        INDArray root = org.nd4j.linalg.ops.transforms.Transforms.sqrt(d.s(), true);
        INDArray left = d.u().mul(expandLast(root, ldim));
        INDArray right = swapLast(d.v().mul(expandLast(root, rdim)));
        return new FactoredMatrix(left, right);
    }

    /** {@code diag(S) V^T} [..., k, rdim]: the left factor's orthogonal part removed. */
    public INDArray collapseL() {
        Svd d = svd();
        return swapLast(d.v().mul(expandLast(d.s(), rdim)));
    }

    /** {@code U diag(S)} [..., ldim, k]. */
    public INDArray collapseR() {
        Svd d = svd();
        return d.u().mul(expandLast(d.s(), ldim));
    }

    @Override
    public String toString() {
        return "FactoredMatrix(shape " + Arrays.toString(shape()) + ", hidden dim " + mdim + ")";
    }

    // ------------------------------------------------------------------ helpers

    /** [..., k] to [..., rows, k], each row a copy (to scale the columns of a [..., rows, k] matrix). */
    private static INDArray expandLast(INDArray x, long rows) {
        long[] s = x.shape();
        long[] shaped = Arrays.copyOf(s, s.length + 1);
        shaped[s.length] = s[s.length - 1];
        shaped[s.length - 1] = 1;
        long[] target = shaped.clone();
        target[s.length - 1] = rows;
        return x.reshape('c', shaped).broadcast(target);
    }

    /** Matrix products over shared leading dimensions: [..., p, q] x [..., q, r]. */
    private static INDArray batched(INDArray x, INDArray y) {
        if (x.rank() == 2) return x.mmul(y);
        long[] lead = Arrays.copyOf(x.shape(), x.rank() - 2);
        long n = count(lead), p = last(x, 2), q = last(x, 1), r = last(y, 1);
        INDArray xf = x.dup('c').reshape('c', n, p, q), yf = y.dup('c').reshape('c', n, q, r);
        INDArray out = Nd4j.create(DataType.DOUBLE, n, p, r);
        for (int i = 0; i < n; i++) out.slice(i).assign(xf.slice(i).mmul(yf.slice(i)));
        return out.reshape('c', concat(lead, p, r));
    }

    private static INDArray swapLast(INDArray x) {
        int[] perm = new int[x.rank()];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        perm[perm.length - 1] = perm.length - 2;
        perm[perm.length - 2] = perm.length - 1;
        return x.permute(perm).dup('c');
    }

    /** The size of the {@code k}-th dimension from the end (1: the last). */
    private static long last(INDArray x, int k) {
        return x.size(x.rank() - k);
    }

    private static RealMatrix matrix(INDArray m) {
        return new Array2DRowRealMatrix(m.toDoubleMatrix(), false);
    }

    private static long count(long[] dims) {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    private static long[] concat(long[] lead, long... tail) {
        long[] s = Arrays.copyOf(lead, lead.length + tail.length);
        System.arraycopy(tail, 0, s, lead.length, tail.length);
        return s;
    }

    private static long[] broadcast(long[] x, long[] y, INDArray a, INDArray b) {
        int n = Math.max(x.length, y.length);
        long[] s = new long[n];
        for (int i = 0; i < n; i++) {
            long p = i - (n - x.length) >= 0 ? x[i - (n - x.length)] : 1;
            long q = i - (n - y.length) >= 0 ? y[i - (n - y.length)] : 1;
            if (p != q && p != 1 && q != 1)
                throw new LoupeException("factored matrix: leading dimensions do not broadcast, A "
                        + Arrays.toString(a.shape()) + ", B " + Arrays.toString(b.shape()));
            s[i] = Math.max(p, q);
        }
        return s;
    }

    /** x broadcast to [leading..., rows, cols], as a c-ordered copy. */
    private static INDArray expand(INDArray x, long[] leading) {
        long[] target = concat(leading, last(x, 2), last(x, 1));
        if (Arrays.equals(x.shape(), target)) return x.dup('c');
        long[] padded = new long[target.length];
        Arrays.fill(padded, 1);
        System.arraycopy(x.shape(), 0, padded, target.length - x.rank(), x.rank());
        return x.reshape('c', padded).broadcast(target).dup('c');
    }

    /** W_V / W_O (or Q, K) of every block stacked: [n_layers, n_heads, ...], TransformerLens layout. */
    private static INDArray stacked(HookedTransformer model, String weight, boolean keysOrValues) {
        ModelConfig c = model.config();
        Map<String, INDArray> sd = model.stateDict();
        INDArray[] parts = new INDArray[c.nLayers()];
        for (int l = 0; l < c.nLayers(); l++) {
            INDArray w = sd.get("blocks." + l + ".attn." + weight).castTo(DataType.DOUBLE);
            // grouped-query attention: each key/value head serves nKvGroups query heads
            if (keysOrValues && c.nKvHeads() != c.nHeads()) w = w.repeat(0, c.nHeads() / c.nKvHeads());
            long[] s = w.shape();
            parts[l] = w.dup('c').reshape('c', concat(new long[] {1}, s));
        }
        return Nd4j.concat(0, parts);
    }
}
