/*
 * The float math the kernels share, written so that its rounding is fixed by this source: each
 * eight-lane function does exactly the operations of its scalar twin (multiplies and adds, never a
 * fused one unless written as fmaf), so a loop's vector body and scalar tail agree bit for bit.
 */
#ifndef LOUPE_VECTOR_MATH_H
#define LOUPE_VECTOR_MATH_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

/*
 * e^x for x <= 0 (Cephes' expf: x = n ln 2 + r, a degree-6 polynomial in r, times 2^n); 0 below -87.3.
 * exp8 is the same arithmetic on eight lanes (multiplies and adds, no fused ones), so both round alike.
 */
static inline float expNonPositive(float x) {
    int under = x < -87.3f;
    x = x < -87.3f ? -87.3f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } pow2 = {.i = ((int32_t)n + 127) << 23};
    return under ? 0.0f : p * pow2.f;
}

static inline __m256 exp8(__m256 x) {
    __m256 low = _mm256_set1_ps(-87.3f), under = _mm256_cmp_ps(x, low, _CMP_LT_OQ);
    x = _mm256_max_ps(x, low);
    __m256 n = _mm256_floor_ps(
        _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_add_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(2.12194440e-4f)));
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* sum of x[0..n) as eight interleaved partial sums, added pairwise in a fixed order */
static inline float rowSum(const float *x, int n) {
    float s[8] = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) s[l] += x[j + l];
    for (int l = 0; j < n; j++, l++) s[l] += x[j];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/* 1 / (1 + e^-x), from e^-|x| so that nothing overflows */
static inline float sigmoid(float x) {
    float e = expNonPositive(-fabsf(x)), r = 1.0f / (1.0f + e);
    return x >= 0 ? r : e * r;
}

static inline __m256 sigmoid8(__m256 x) {
    __m256 absx = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), absx)),
           r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(_mm256_mul_ps(e, r), r, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
}

#endif
