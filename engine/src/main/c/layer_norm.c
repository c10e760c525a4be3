/*
 * LayerNorm over the last dimension, y = (x - mean) / sqrt(var + eps) * w + b, forward and backward
 * in one pass each over float32 rows: what TransformerKernels' centerLast, rmsLast, normalizeLast and
 * affineLast do in about fifteen ND4J passes. Row sums use vector_math.h's fixed order; the weight
 * and bias gradients add the rows in order, so the results do not depend on the vector width.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>

#include "vector_math.h"

/* rows [0, m) of x [m, n]: y, and x̂ [m, n] and 1 / scale [m] for the backward */
static void forward(const float *x, const float *w, const float *b, float *y, float *xhat, float *rscale, int64_t m,
                    int n, float eps) {
    for (int64_t r = 0; r < m; r++) {
        const float *xr = x + r * n;
        float *hr = xhat + r * n, *yr = y + r * n;
        float mean = rowSum(xr, n) / n;
        for (int c = 0; c < n; c++) hr[c] = xr[c] - mean;
        for (int c = 0; c < n; c++) yr[c] = hr[c] * hr[c]; /* y as scratch for the squares */
        float inv = 1.0f / sqrtf(rowSum(yr, n) / n + eps);
        rscale[r] = inv;
        for (int c = 0; c < n; c++) hr[c] = hr[c] * inv;
        if (b)
            for (int c = 0; c < n; c++) yr[c] = hr[c] * w[c] + b[c];
        else
            for (int c = 0; c < n; c++) yr[c] = hr[c] * w[c];
    }
}

/*
 * dx = (g w - mean(g w) - x̂ mean(g w x̂)) / scale; dw = column sums of g x̂, db = of g (each null when
 * not wanted, else overwritten). scratch holds 2n floats.
 */
static void backward(const float *g, const float *w, const float *xhat, const float *rscale, float *dx, float *dw,
                     float *db, int64_t m, int n, float *scratch) {
    float *gw = scratch, *prod = scratch + n;
    if (dw)
        for (int c = 0; c < n; c++) dw[c] = 0;
    if (db)
        for (int c = 0; c < n; c++) db[c] = 0;
    for (int64_t r = 0; r < m; r++) {
        const float *gr = g + r * n, *hr = xhat + r * n;
        if (dw)
            for (int c = 0; c < n; c++) dw[c] += gr[c] * hr[c];
        if (db)
            for (int c = 0; c < n; c++) db[c] += gr[c];
        if (!dx) continue;
        for (int c = 0; c < n; c++) gw[c] = gr[c] * w[c];
        for (int c = 0; c < n; c++) prod[c] = gw[c] * hr[c];
        float meanG = rowSum(gw, n) / n, meanGX = rowSum(prod, n) / n, inv = rscale[r];
        float *dr = dx + r * n;
        for (int c = 0; c < n; c++) dr[c] = ((gw[c] - meanG) - hr[c] * meanGX) * inv;
    }
}

static float *at(jlong address) { return (float *)(intptr_t)address; }

JNIEXPORT void JNICALL Java_dev_loupe_engine_autograd_NativeKernels_layerNormForward(JNIEnv *env, jclass cls,
                                                                                     jlong x, jlong w, jlong b,
                                                                                     jlong y, jlong xhat,
                                                                                     jlong rscale, jlong m, jint n,
                                                                                     jfloat eps) {
    forward(at(x), at(w), at(b), at(y), at(xhat), at(rscale), m, n, eps);
}

JNIEXPORT jint JNICALL Java_dev_loupe_engine_autograd_NativeKernels_layerNormBackward(
    JNIEnv *env, jclass cls, jlong g, jlong w, jlong xhat, jlong rscale, jlong dx, jlong dw, jlong db, jlong m,
    jint n) {
    float *scratch = malloc(2 * sizeof(float) * n);
    if (!scratch) return 1;
    backward(at(g), at(w), at(xhat), at(rscale), at(dx), at(dw), at(db), m, n, scratch);
    free(scratch);
    return 0;
}
