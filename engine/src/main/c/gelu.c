/*
 * GELU in GPT-2's tanh form, 0.5 x (1 + tanh(u)) = x sigmoid(2u) with u = sqrt(2/pi) (x + 0.044715 x^3),
 * forward and backward in one pass each over float32 arrays: what Tensor.geluNew does in nine ND4J
 * passes. The forward keeps s = sigmoid(2u) for the backward.
 */
#include <jni.h>
#include <stdint.h>

#include "vector_math.h"

#define TWO_C 1.5957691216057308f            /* 2 sqrt(2 / pi) */
#define TWO_C_CUBIC 0.07135481627260025f     /* 2 sqrt(2 / pi) 0.044715 */
#define TWO_C_CUBIC_D 0.21406444881780076f   /* 3 * TWO_C_CUBIC: from the derivative of x^3 */

/* y = x s, s = sigmoid(x (2c + 2c 0.044715 x^2)) */
static void forward(const float *x, float *y, float *s, int64_t n) {
    int64_t i = 0;
    __m256 a = _mm256_set1_ps(TWO_C_CUBIC), b = _mm256_set1_ps(TWO_C);
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256 v = _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(xv, xv), a), b), xv);
        __m256 sv = sigmoid8(v);
        _mm256_storeu_ps(s + i, sv);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(sv, xv));
    }
    for (; i < n; i++) {
        float v = (x[i] * x[i] * TWO_C_CUBIC + TWO_C) * x[i];
        s[i] = sigmoid(v);
        y[i] = s[i] * x[i];
    }
}

/* dx = g (s + x s (1 - s) (2c + 3 2c 0.044715 x^2)) */
static void backward(const float *x, const float *s, const float *g, float *dx, int64_t n) {
    int64_t i = 0;
    __m256 a = _mm256_set1_ps(TWO_C_CUBIC_D), b = _mm256_set1_ps(TWO_C), one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i), sv = _mm256_loadu_ps(s + i);
        __m256 d = _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(xv, xv), a), b), xv);
        d = _mm256_add_ps(_mm256_mul_ps(d, _mm256_mul_ps(sv, _mm256_sub_ps(one, sv))), sv);
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(d, _mm256_loadu_ps(g + i)));
    }
    for (; i < n; i++) {
        float d = (x[i] * x[i] * TWO_C_CUBIC_D + TWO_C) * x[i];
        d = d * (s[i] * (1.0f - s[i])) + s[i];
        dx[i] = d * g[i];
    }
}

static float *at(jlong address) { return (float *)(intptr_t)address; }

JNIEXPORT void JNICALL Java_dev_loupe_engine_autograd_NativeKernels_geluForward(JNIEnv *env, jclass cls, jlong x,
                                                                                jlong y, jlong s, jlong from,
                                                                                jlong to) {
    forward(at(x) + from, at(y) + from, at(s) + from, to - from);
}

JNIEXPORT void JNICALL Java_dev_loupe_engine_autograd_NativeKernels_geluBackward(JNIEnv *env, jclass cls, jlong x,
                                                                                 jlong s, jlong g, jlong dx,
                                                                                 jlong from, jlong to) {
    backward(at(x) + from, at(s) + from, at(g) + from, at(dx) + from, to - from);
}
