/*
 * Causal self-attention for every (sequence, head), forward and backward, as one fused kernel:
 * what TransformerKernels.attentionScores, softmax and attend do in eight ND4J ops over [B, H, T, T]
 * arrays, done here per (sequence, head) on tiles that stay in the core's caches, skipping the
 * masked upper triangle. Loupe calls it through JNI (NativeKernels.java) on float32 arrays.
 *
 * Layouts (row-major, float32): q, z, dq [B, T, H, d]; k, v, dk, dv [B, T, K, d] with H a multiple
 * of K (query head h reads key/value head h / (H / K)); the pattern p [B, H, T, T], zero above the
 * diagonal, written by the forward and read by the backward.
 *
 * Rounding is fixed by this source alone: every product sum runs over its terms in ascending order
 * through fused multiply-adds (AVX2 in the 4 x 16 tiles, fmaf at the edges: the same rounding), the
 * compiler fuses nothing else (-ffp-contract=off), and row sums and exp are vector_math.h's. So a
 * training run replays bit for bit, whatever the tiling or the number of threads.
 */
#include <immintrin.h>
#include <jni.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vector_math.h"

#define MR 4  /* rows per register tile */
#define NR 16 /* columns per register tile: two 8-float vectors */

enum Terms { ALL, FROM_BLOCK, TO_BLOCK };

/*
 * C[i][n] = alpha * sum_k A[i][k] B[k][n] for rows [0, rows), columns [0, cols), k in [0, kEnd) or,
 * where A is known to be zero outside a triangle, only the terms that can be nonzero for the block of
 * MR rows holding row i: FROM_BLOCK (A upper triangular: k from the block's first row) or TO_BLOCK
 * (A lower triangular: k up to the block's last row). Terms are summed in ascending k through fmaf,
 * so a tile and the scalar edge give the same bits, and a skipped zero term would have added nothing.
 */
static void gemm(int rows, int cols, int kEnd, enum Terms terms, const float *A, int lda, int transA, const float *B,
                 int ldb, float *C, int ldc, float alpha) {
    /* A[i][k] is A[i * lda + k], or A[k * lda + i] when transA (A^T given row-major) */
    size_t rowStep = transA ? 1 : (size_t)lda, termStep = transA ? (size_t)lda : 1;
    for (int i0 = 0; i0 < rows; i0 += MR) {
        int mr = rows - i0 < MR ? rows - i0 : MR;
        int k0 = terms == FROM_BLOCK ? i0 : 0;
        int k1 = terms == TO_BLOCK && i0 + mr < kEnd ? i0 + mr : kEnd;
        int n0 = 0;
        if (mr == MR) { /* a 4 x 16 tile in eight AVX2 registers */
            for (; n0 + NR <= cols; n0 += NR) {
                __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
                       c31 = c00;
                const float *a = A + i0 * rowStep;
                for (int k = k0; k < k1; k++) {
                    const float *b = B + (size_t)k * ldb + n0, *ak = a + k * termStep;
                    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
                    x = _mm256_broadcast_ss(ak);
                    c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
                    x = _mm256_broadcast_ss(ak + rowStep);
                    c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
                    x = _mm256_broadcast_ss(ak + 2 * rowStep);
                    c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
                    x = _mm256_broadcast_ss(ak + 3 * rowStep);
                    c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
                }
                __m256 s = _mm256_set1_ps(alpha);
                float *c = C + (size_t)i0 * ldc + n0;
                _mm256_storeu_ps(c, _mm256_mul_ps(s, c00)), _mm256_storeu_ps(c + 8, _mm256_mul_ps(s, c01));
                c += ldc;
                _mm256_storeu_ps(c, _mm256_mul_ps(s, c10)), _mm256_storeu_ps(c + 8, _mm256_mul_ps(s, c11));
                c += ldc;
                _mm256_storeu_ps(c, _mm256_mul_ps(s, c20)), _mm256_storeu_ps(c + 8, _mm256_mul_ps(s, c21));
                c += ldc;
                _mm256_storeu_ps(c, _mm256_mul_ps(s, c30)), _mm256_storeu_ps(c + 8, _mm256_mul_ps(s, c31));
            }
        }
        for (int r = 0; r < mr; r++) /* the edge: fewer rows, or the last columns */
            for (int n = n0; n < cols; n++) {
                float acc = 0;
                for (int k = k0; k < k1; k++) acc = fmaf(A[(i0 + r) * rowStep + k * termStep], B[(size_t)k * ldb + n], acc);
                C[(size_t)(i0 + r) * ldc + n] = alpha * acc;
            }
    }
}

/*
 * Like gemm, but row block i0 computes only the columns [0, i0 + MR) rounded up to a tile: the lower
 * triangle of a [T, T] product, by tiles. The entries right of the diagonal inside a tile are computed
 * and then overwritten by the caller.
 */
static void gemmLowerTriangle(int rows, int cols, int kEnd, const float *A, int lda, const float *B, int ldb,
                              float *C, int ldc, float alpha) {
    for (int i0 = 0; i0 < rows; i0 += MR) {
        int mr = rows - i0 < MR ? rows - i0 : MR;
        int need = i0 + mr;
        need = (need + NR - 1) / NR * NR;
        if (need > cols) need = cols;
        gemm(mr, need, kEnd, ALL, A + (size_t)i0 * lda, lda, 0, B, ldb, C + (size_t)i0 * ldc, ldc, alpha);
    }
}

/* Each row i of scores s [T, T] becomes softmax over its first i + 1 entries, zeros after. */
static void causalSoftmax(float *s, int T) {
    for (int i = 0; i < T; i++) {
        float *row = s + (size_t)i * T;
        int n = i + 1, j = 0;
        float m = row[0]; /* the maximum: exact in any order */
        if (n >= 8) {
            __m256 mv = _mm256_loadu_ps(row);
            for (j = 8; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(row + j));
            float lanes[8];
            _mm256_storeu_ps(lanes, mv);
            for (int l = 0; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
        }
        for (; j < n; j++) m = row[j] > m ? row[j] : m;
        __m256 mv = _mm256_set1_ps(m);
        for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), mv)));
        for (; j < n; j++) row[j] = expNonPositive(row[j] - m);
        float inv = 1.0f / rowSum(row, n);
        for (j = 0; j < n; j++) row[j] *= inv;
        for (; j < T; j++) row[j] = 0;
    }
}

/* dst [cols, rows] = src [rows, cols]^T, src rows ld apart */
static void transpose(const float *src, int rows, int cols, int ld, float *dst) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * rows + i] = src[(size_t)i * ld + j];
}

/* dst [T, d] (rows ld apart) += or = src [T, d] */
static void store(const float *src, int T, int d, float *dst, int ld, int add) {
    for (int t = 0; t < T; t++) {
        float *o = dst + (size_t)t * ld;
        const float *x = src + (size_t)t * d;
        if (add)
            for (int c = 0; c < d; c++) o[c] += x[c];
        else
            memcpy(o, x, sizeof(float) * d);
    }
}

static float *floats(size_t n) { return (float *)aligned_alloc(64, ((n * sizeof(float)) + 63) / 64 * 64); }

/*
 * Head h of sequence b in a [B, T, heads, d] array: its rows [T, d] start at head(a, b, ...) and are
 * heads * d apart, which the products read in place.
 */
static const float *head(const float *a, int b, int T, int heads, int h, int d) {
    return a + ((size_t)b * T * heads + h) * d;
}

/*
 * A key or value head's gradient from one query head: A^T X for A [T, T] lower triangular (row j of
 * A^T sums over queries i >= j) and X [T, d] rows ldx apart, written to dst (rows ldd apart) when the
 * head serves one query head, else summed over its group through scratch [T, d] (first: overwrite).
 */
static void keyGradient(const float *A, const float *X, int ldx, float *dst, int ldd, int T, int d, int group, int first,
                        float *scratch) {
    if (group == 1) {
        gemm(T, d, T, FROM_BLOCK, A, T, 1, X, ldx, dst, ldd, 1.0f);
        return;
    }
    gemm(T, d, T, FROM_BLOCK, A, T, 1, X, ldx, scratch, d, 1.0f);
    store(scratch, T, d, dst, ldd, !first);
}

/* z = softmax(scale q k^T, causal) v for sequences [b0, b1); p receives each pattern. 0 on success. */
static int forward(const float *q, const float *k, const float *v, float *z, float *p, int b0, int b1, int T, int H,
                   int K, int d, float scale) {
    float *Kt = floats((size_t)d * T);
    if (!Kt) return 1;
    int group = H / K, ldq = H * d, ldk = K * d;
    for (int b = b0; b < b1; b++)
        for (int h = 0; h < H; h++) {
            int kh = h / group;
            float *P = p + ((size_t)b * H + h) * T * T; // [T, T]
            if (h % group == 0) transpose(head(k, b, T, K, kh, d), T, d, ldk, Kt);
            gemmLowerTriangle(T, T, d, head(q, b, T, H, h, d), ldq, Kt, T, P, T, scale); // scores, by tiles
            causalSoftmax(P, T);
            gemm(T, d, T, TO_BLOCK, P, T, 0, head(v, b, T, K, kh, d), ldk, (float *)head(z, b, T, H, h, d), ldq, 1.0f);
        }
    free(Kt);
    return 0;
}

/*
 * The backward of forward, from the pattern it wrote: dP = dZ V^T, dS = P * (dP - rowsum(P * dP)),
 * dq = scale dS K, dk = scale dS^T q, dv = P^T dZ. dk and dv (sequences [b0, b1)) are overwritten
 * with the sum over each key/value head's group of query heads.
 */
static int backward(const float *q, const float *k, const float *v, const float *p, const float *dz, float *dq,
                    float *dk, float *dv, int b0, int b1, int T, int H, int K, int d, float scale) {
    size_t td = (size_t)T * d, tt = (size_t)T * T;
    float *Vt = floats(td), *dX = floats(td), *dS = floats(tt), *row = floats(T);
    if (!Vt || !dX || !dS || !row) {
        free(Vt), free(dX), free(dS), free(row);
        return 1;
    }
    int group = H / K, ldq = H * d, ldk = K * d;
    for (int b = b0; b < b1; b++)
        for (int h = 0; h < H; h++) {
            int kh = h / group, first = h % group == 0;
            const float *P = p + ((size_t)b * H + h) * tt, *dZ = head(dz, b, T, H, h, d);
            float *dvh = (float *)head(dv, b, T, K, kh, d), *dkh = (float *)head(dk, b, T, K, kh, d);
            if (first) transpose(head(v, b, T, K, kh, d), T, d, ldk, Vt);
            keyGradient(P, dZ, ldq, dvh, ldk, T, d, group, first, dX); // dv = P^T dZ
            // dS = scale * P * (dP - rowsum(P * dP)), dP = dZ V^T
            gemmLowerTriangle(T, T, d, dZ, ldq, Vt, T, dS, T, 1.0f);
            for (int i = 0; i < T; i++) {
                const float *pr = P + (size_t)i * T;
                float *gr = dS + (size_t)i * T;
                for (int j = 0; j <= i; j++) row[j] = pr[j] * gr[j];
                float dot = rowSum(row, i + 1);
                for (int j = 0; j <= i; j++) gr[j] = scale * (pr[j] * (gr[j] - dot));
                for (int j = i + 1; j < T; j++) gr[j] = 0;
            }
            // dq = dS K
            gemm(T, d, T, TO_BLOCK, dS, T, 0, head(k, b, T, K, kh, d), ldk, (float *)head(dq, b, T, H, h, d), ldq,
                 1.0f);
            keyGradient(dS, head(q, b, T, H, h, d), ldq, dkh, ldk, T, d, group, first, dX); // dk = dS^T q
        }
    free(Vt), free(dX), free(dS), free(row);
    return 0;
}

static float *at(jlong address) { return (float *)(intptr_t)address; }

JNIEXPORT jint JNICALL Java_dev_loupe_engine_autograd_NativeKernels_attentionForward(JNIEnv *env, jclass cls, jlong q,
                                                                             jlong k, jlong v, jlong z, jlong p,
                                                                             jint b0, jint b1, jint T, jint H,
                                                                             jint K, jint d, jfloat scale) {
    return forward(at(q), at(k), at(v), at(z), at(p), b0, b1, T, H, K, d, scale);
}

JNIEXPORT jint JNICALL Java_dev_loupe_engine_autograd_NativeKernels_attentionBackward(
    JNIEnv *env, jclass cls, jlong q, jlong k, jlong v, jlong p, jlong dz, jlong dq, jlong dk, jlong dv, jint b0,
    jint b1, jint T, jint H, jint K, jint d, jfloat scale) {
    return backward(at(q), at(k), at(v), at(p), at(dz), at(dq), at(dk), at(dv), b0, b1, T, H, K, d, scale);
}
