/* vec_math.h: vectorisable f32 transcendental functions and the row
 * kernels built on them (activations, softmax, layer/RMS norm).
 *
 * The scalar approximations below are plain C (bit tricks through unions,
 * no libm calls, branch-free selects) so that a loop calling them inside a
 * FR_CLONES function is vectorised by the compiler for each target. Accuracy
 * (measured by tests/test_ops_unary.c against libm in double): exp, log,
 * sigmoid about 1-2 ulp; tanh and erfc about 1e-6 relative at worst.
 * Array kernels are fr_vec_<what>(n, inputs..., output); backward kernels
 * accumulate (dx += ...). These are the f32 fast paths only; each op's
 * scalar reference lives in its op file.
 */
#ifndef FRUGAL_VEC_MATH_H
#define FRUGAL_VEC_MATH_H

#include "vec.h"

#include <stdint.h>

#define FR_VM_INLINE static inline __attribute__((always_inline))

union fr_vm_bits {
    float f;
    uint32_t u;
    int32_t i;
};

FR_VM_INLINE float fr_vm_from_bits(uint32_t u) {
    union fr_vm_bits b = {.u = u};
    return b.f;
}
FR_VM_INLINE uint32_t fr_vm_to_bits(float f) {
    union fr_vm_bits b = {.f = f};
    return b.u;
}

/* exp(n ln2 + r) for |r| <= ln2/2: Cephes degree-6 polynomial, 2^n applied
 * in two halves so results down into the subnormals and up to overflow
 * (inf) come out right. n in [-150, 128]. */
FR_VM_INLINE float fr_vm_exp_kernel(float r, int32_t n) {
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t h1 = n >> 1, h2 = n - h1;
    float s1 = fr_vm_from_bits((uint32_t)(h1 + 127) << 23);
    float s2 = fr_vm_from_bits((uint32_t)(h2 + 127) << 23);
    return p * s1 * s2;
}

#define FR_VM_MAGIC 12582912.0f   /* 1.5 * 2^23: x + magic rounds x to an integer */
#define FR_VM_LN2_HI 0.693359375f /* few bits: n * LN2_HI is exact */
#define FR_VM_LN2_LO -2.12194440e-4f

/* exp(x): Cody-Waite reduction x = n ln2 + r then the kernel. NaN
 * propagates; exp(-inf) = 0, exp(inf) = inf. */
FR_VM_INLINE float fr_expf_fast(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    float t = xc * 1.44269504088896341f + FR_VM_MAGIC;
    int32_t n = (int32_t)(fr_vm_to_bits(t) - fr_vm_to_bits(FR_VM_MAGIC));
    float fn = t - FR_VM_MAGIC;
    float r = xc - fn * FR_VM_LN2_HI;
    r = r - fn * FR_VM_LN2_LO;
    float y = fr_vm_exp_kernel(r, n);
    return x != x ? x : y;
}

/* exp(a + b) where the argument is known as an unevaluated sum (|b| below a
 * few units): the bits of b below a's ulp survive the reduction, which
 * matters when a is large, e.g. exp(-x^2/2) at |x| ~ 9. */
FR_VM_INLINE float fr_expf_fast2(float a, float b) {
    float s = a + b;
    float sc = s < -104.0f ? -104.0f : s;
    sc = sc > 89.0f ? 89.0f : sc;
    float t = sc * 1.44269504088896341f + FR_VM_MAGIC;
    int32_t n = (int32_t)(fr_vm_to_bits(t) - fr_vm_to_bits(FR_VM_MAGIC));
    float fn = t - FR_VM_MAGIC;
    float r = (a - fn * FR_VM_LN2_HI) - fn * FR_VM_LN2_LO + b;
    float y = fr_vm_exp_kernel(r, n);
    y = s < -104.0f ? 0.0f : y;
    y = s > 89.0f ? __builtin_inff() : y;
    return s != s ? s : y;
}

/* x^2 * c (c a power of two) as hi + lo exactly: the product of two floats
 * is exact in double. */
FR_VM_INLINE void fr_vm_square_split(float x, double c, float *hi, float *lo) {
    double q = (double)x * (double)x * c;
    *hi = (float)q;
    *lo = (float)(q - (double)*hi);
}

/* log(x): x = m 2^e with m in [sqrt(1/2), sqrt(2)), Cephes polynomial in
 * m - 1. Subnormals are prescaled; log(0) = -inf, log(x<0) = NaN,
 * log(inf) = inf. */
FR_VM_INLINE float fr_logf_fast(float x) {
    int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x; /* 2^23 */
    uint32_t u = fr_vm_to_bits(xs);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127 - (sub ? 23 : 0);
    float m = fr_vm_from_bits((u & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    float f = m - 1.0f, z = f * f, fe = (float)e;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = p * f * z;
    y += fe * -2.12194440e-4f;
    y += -0.5f * z;
    y = f + y;
    y += fe * 0.693359375f;
    y = x == 0.0f ? -__builtin_inff() : y;
    y = x < 0.0f ? __builtin_nanf("") : y;
    y = x == __builtin_inff() ? x : y;
    return x != x ? x : y;
}

/* 1 / (1 + exp(-x)), accurate in relative terms on both tails. */
FR_VM_INLINE float fr_sigmoidf_fast(float x) {
    return 1.0f / (1.0f + fr_expf_fast(-x));
}

/* tanh: odd polynomial (Cephes) for |x| < 0.625, where 1 - 2/(e^2x + 1)
 * would cancel; that form beyond. */
FR_VM_INLINE float fr_tanhf_fast(float x) {
    float ax = x < 0 ? -x : x;
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float big = 1.0f - 2.0f / (fr_expf_fast(2.0f * ax) + 1.0f);
    big = x < 0 ? -big : big;
    return ax < 0.625f ? small : big;
}

/* erfc(z) for z >= 0 with z^2 = zz_hi + zz_lo given exactly (Numerical
 * Recipes' Chebyshev fit, relative error < 1.2e-7 in exact arithmetic). */
FR_VM_INLINE float fr_erfcf_pos_fast(float z, float zz_hi, float zz_lo) {
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * fr_expf_fast2(-zz_hi, p - zz_lo);
}

/* Phi(x) = P(N(0,1) <= x) = erfc(-x/sqrt2)/2, relative-accurate on both
 * tails. */
FR_VM_INLINE float fr_normcdf_fast(float x) {
    float hi, lo;
    fr_vm_square_split(x, 0.5, &hi, &lo);
    float h = 0.5f * fr_erfcf_pos_fast((x < 0 ? -x : x) * 0.70710678118654752f, hi, lo);
    return x < 0 ? h : 1.0f - h;
}

/* exp(-x^2/2) / sqrt(2 pi), the normal density. */
FR_VM_INLINE float fr_normpdf_fast(float x) {
    float hi, lo;
    fr_vm_square_split(x, 0.5, &hi, &lo);
    return 0.39894228040143268f * fr_expf_fast2(-hi, -lo);
}

/* erf(x): odd Taylor series below |x| = 0.5 (where 1 - erfc cancels),
 * 1 - erfc(|x|) above. */
FR_VM_INLINE float fr_erff_fast(float x) {
    float ax = x < 0 ? -x : x, z = x * x;
    /* 2/sqrt(pi) sum_k (-1)^k x^(2k+1) / (k! (2k+1)), k <= 7 */
    float p = -1.4925650e-5f;
    p = p * z + 1.2055333e-4f;
    p = p * z - 8.5483270e-4f;
    p = p * z + 5.2239776e-3f;
    p = p * z - 2.6866171e-2f;
    p = p * z + 1.1283792e-1f;
    p = p * z - 3.7612639e-1f;
    p = p * z + 1.1283792f;
    float small = p * x;
    float hi, lo;
    fr_vm_square_split(x, 1.0, &hi, &lo);
    float e = 1.0f - fr_erfcf_pos_fast(ax, hi, lo);
    e = x < 0 ? -e : e;
    return ax < 0.5f ? small : e;
}

/* ---- array kernels (contiguous f32) ---- */
void fr_vec_exp(int64_t n, const float *x, float *y);
void fr_vec_log(int64_t n, const float *x, float *y);
void fr_vec_sqrt(int64_t n, const float *x, float *y);
void fr_vec_tanh(int64_t n, const float *x, float *y);
void fr_vec_sigmoid(int64_t n, const float *x, float *y);
void fr_vec_relu(int64_t n, const float *x, float *y);
void fr_vec_gelu(int64_t n, const float *x, float *y);      /* x Phi(x) */
void fr_vec_gelu_tanh(int64_t n, const float *x, float *y); /* GPT-2 form */
void fr_vec_silu(int64_t n, const float *x, float *y);
void fr_vec_pow(int64_t n, float p, const float *x, float *y);
void fr_vec_clamp(int64_t n, float lo, float hi, const float *x, float *y);
void fr_vec_erf(int64_t n, const float *x, float *y);

/* y = m ? a : b (m a byte mask); dx += (m != 0) == want ? g : 0. */
void fr_vec_where(int64_t n, const uint8_t *m, const float *a, const float *b, float *y);
void fr_vec_where_acc(int64_t n, const uint8_t *m, uint8_t want, const float *g, float *dx);

/* y = x * (m ? s : 0), or y += that when acc (dropout and its backward). */
void fr_vec_mask_scale(int64_t n, const float *x, const uint8_t *m, float s, float *y, int acc);

/* dx += g * f'(x); x is the op input, y its output (each kernel reads the
 * one its derivative is cheapest from). */
void fr_vec_relu_backward(int64_t n, const float *y, const float *g, float *dx);
void fr_vec_gelu_backward(int64_t n, const float *x, const float *g, float *dx);
void fr_vec_gelu_tanh_backward(int64_t n, const float *x, const float *g, float *dx);
void fr_vec_silu_backward(int64_t n, const float *x, const float *g, float *dx);
void fr_vec_tanh_backward(int64_t n, const float *y, const float *g, float *dx);
void fr_vec_sigmoid_backward(int64_t n, const float *y, const float *g, float *dx);
void fr_vec_log_backward(int64_t n, const float *x, const float *g, float *dx);
void fr_vec_sqrt_backward(int64_t n, const float *y, const float *g, float *dx);
void fr_vec_pow_backward(int64_t n, float p, const float *x, const float *g, float *dx);
void fr_vec_clamp_backward(int64_t n, float lo, float hi, const float *x, const float *g,
                           float *dx);

/* ---- row kernels ---- */
float fr_vec_max(int64_t n, const float *x); /* NaN-blind max; n >= 1 */
/* y = softmax(x) over the row. */
void fr_vec_softmax_row(int64_t n, const float *x, float *y);
/* y = x - logsumexp(x); returns logsumexp(x) (double accumulation). */
double fr_vec_log_softmax_row(int64_t n, const float *x, float *y);
/* logsumexp of the row without writing anything. */
double fr_vec_logsumexp(int64_t n, const float *x);
/* dx += y * (g - sum(g*y)) */
void fr_vec_softmax_row_backward(int64_t n, const float *y, const float *g, float *dx);
/* dx += g - exp(y) * sum(g) */
void fr_vec_log_softmax_row_backward(int64_t n, const float *y, const float *g, float *dx);
/* dx += s * (exp(x - lse) - q) where q = smooth/n everywhere plus
 * (1 - smooth) at index label: the fused cross-entropy gradient. */
void fr_vec_xent_row_backward(int64_t n, const float *x, double lse, int64_t label, float smooth,
                              float s, float *dx);
/* Row statistics in double: mean and 1/sqrt(var + eps), or for rms != 0
 * mean = 0 and 1/sqrt(mean(x^2) + eps). */
void fr_vec_mean_rstd(int64_t n, const float *x, float eps, int rms, float *mean, float *rstd);
/* y = (x - mean) * rstd * w + b (w, b may be NULL). */
void fr_vec_norm_apply(int64_t n, const float *x, float mean, float rstd, const float *w,
                       const float *b, float *y);
/* Backward of one normalised row: dx += rstd * (gw - mean(gw) - xhat mean(gw xhat))
 * with gw = g * w (w may be NULL) and xhat = (x - mean) * rstd; for RMS norm
 * (rms != 0, mean = 0) the mean(gw) term is dropped. */
void fr_vec_norm_row_backward(int64_t n, const float *x, const float *g, const float *w, float mean,
                              float rstd, int rms, float *dx);

/* Parameter grads of one normalised row: dw += g (x - mean) rstd (dw may
 * be NULL), db += g (db may be NULL). */
void fr_vec_norm_wb_acc(int64_t n, const float *x, const float *g, float mean, float rstd,
                        float *dw, float *db);

/* ---- loss kernels: sums come back in double (float lanes over blocks of
 * 1024, blocks added in double), backward kernels accumulate ---- */
double fr_vec_sqdiff_sum(int64_t n, const float *a, const float *b); /* sum (a-b)^2 */
void fr_vec_acc_diff(int64_t n, float s, const float *a, const float *b,
                     float *dx); /* dx += s(a-b) */
/* sum over i of smooth_l1(a-b) (beta > 0: 0.5 d^2/beta below beta, |d| - beta/2 above;
 * beta == 0: |d|) */
double fr_vec_smooth_l1_sum(int64_t n, float beta, const float *a, const float *b);
/* dx += s * d/da smooth_l1(a - b) */
void fr_vec_smooth_l1_backward(int64_t n, float beta, float s, const float *a, const float *b,
                               float *dx);
/* sum p (log p - lq), terms with p == 0 count 0 */
double fr_vec_kl_sum(int64_t n, const float *lq, const float *p);
/* dp += s (log p - lq + 1) where p != 0 */
void fr_vec_kl_backward_p(int64_t n, float s, const float *lq, const float *p, float *dp);

#endif
