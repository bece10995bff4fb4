/* vec_math.c: the f32 array and row kernels declared in vec_math.h.
 *
 * Every loop is written to vectorise under target_clones (FR_CLONES): the
 * inline approximations from vec_math.h, selects instead of branches, and
 * reductions kept in 16 independent float lanes that are combined in double
 * (deterministic, and close to a double sum). Nothing here allocates.
 */
#include "vec_math.h"

#include <math.h>
#include <stddef.h>

/* Reductions run in this many independent float lanes. */
#define LANES 16

FR_CLONES void fr_vec_exp(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fr_expf_fast(x[i]);
}
FR_CLONES void fr_vec_log(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fr_logf_fast(x[i]);
}
FR_CLONES void fr_vec_sqrt(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = __builtin_sqrtf(x[i]);
}
FR_CLONES void fr_vec_tanh(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fr_tanhf_fast(x[i]);
}
FR_CLONES void fr_vec_sigmoid(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fr_sigmoidf_fast(x[i]);
}
/* NaN passes through, as in PyTorch. */
FR_CLONES void fr_vec_relu(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] > 0.0f || x[i] != x[i]) ? x[i] : 0.0f;
}
FR_CLONES void fr_vec_gelu(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * fr_normcdf_fast(x[i]);
}
FR_CLONES void fr_vec_erf(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fr_erff_fast(x[i]);
}

/* gelu_tanh(x) = x (1 + tanh(u)) / 2 = x sigmoid(2u), u = c (x + k x^3):
 * the sigmoid form keeps relative accuracy on the negative tail. */
#define GT_C 0.7978845608028654f
#define GT_K 0.044715f
FR_CLONES void fr_vec_gelu_tanh(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i], u = GT_C * (v + GT_K * v * v * v);
        y[i] = v * fr_sigmoidf_fast(2.0f * u);
    }
}
FR_CLONES void fr_vec_silu(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * fr_sigmoidf_fast(x[i]);
}

/* x^p for p not special-cased by the caller: exp(p log|x|) with the sign of
 * an odd integer power restored; a negative base with a non-integer p is
 * NaN and 0^0 = 1, as in powf. */
FR_VM_INLINE float fr_powf_fast(float v, float p, int pint, int podd) {
    float a = v < 0 ? -v : v;
    float r = fr_expf_fast(p * fr_logf_fast(a));
    r = (v < 0 && podd) ? -r : r;
    r = (v < 0 && !pint) ? __builtin_nanf("") : r;
    return p == 0.0f ? 1.0f : r;
}
static int pow_is_int(float p) {
    return floorf(p) == p;
}
static int pow_is_odd(float p) {
    return pow_is_int(p) && fabsf(p) < 16777216.0f && ((int64_t)p & 1);
}

FR_CLONES void fr_vec_pow(int64_t n, float p, const float *x, float *y) {
    if (p == 2.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * x[i];
    } else if (p == 1.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i];
    } else if (p == 0.5f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = __builtin_sqrtf(x[i]);
    } else if (p == -1.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0f / x[i];
    } else if (p == 3.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * x[i] * x[i];
    } else {
        int pint = pow_is_int(p), podd = pow_is_odd(p);
        for (int64_t i = 0; i < n; i++)
            y[i] = fr_powf_fast(x[i], p, pint, podd);
    }
}

FR_CLONES void fr_vec_clamp(int64_t n, float lo, float hi, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}

FR_CLONES void fr_vec_where(int64_t n, const uint8_t *m, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = m[i] ? a[i] : b[i];
}
FR_CLONES void fr_vec_where_acc(int64_t n, const uint8_t *m, uint8_t want, const float *g,
                                float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += (m[i] != 0) == want ? g[i] : 0.0f;
}

FR_CLONES void fr_vec_mask_scale(int64_t n, const float *x, const uint8_t *m, float s, float *y,
                                 int acc) {
    if (acc)
        for (int64_t i = 0; i < n; i++)
            y[i] += x[i] * (m[i] ? s : 0.0f);
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * (m[i] ? s : 0.0f);
}

/* ---- backward kernels: dx += g * f'(x) ---- */

FR_CLONES void fr_vec_relu_backward(int64_t n, const float *y, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += y[i] > 0.0f ? g[i] : 0.0f;
}
/* d/dx x Phi(x) = Phi(x) + x phi(x) */
FR_CLONES void fr_vec_gelu_backward(int64_t n, const float *x, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        dx[i] += g[i] * (fr_normcdf_fast(v) + v * fr_normpdf_fast(v));
    }
}
/* d/dx x s(2u) = s + x s (1 - s) 2 u', u' = c (1 + 3 k x^2) */
FR_CLONES void fr_vec_gelu_tanh_backward(int64_t n, const float *x, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i], u = GT_C * (v + GT_K * v * v * v);
        float s = fr_sigmoidf_fast(2.0f * u);
        float du = GT_C * (1.0f + 3.0f * GT_K * v * v);
        dx[i] += g[i] * (s + v * s * (1.0f - s) * 2.0f * du);
    }
}
FR_CLONES void fr_vec_silu_backward(int64_t n, const float *x, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        float s = fr_sigmoidf_fast(x[i]);
        dx[i] += g[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}
FR_CLONES void fr_vec_tanh_backward(int64_t n, const float *y, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += g[i] * (1.0f - y[i] * y[i]);
}
FR_CLONES void fr_vec_sigmoid_backward(int64_t n, const float *y, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += g[i] * y[i] * (1.0f - y[i]);
}
FR_CLONES void fr_vec_log_backward(int64_t n, const float *x, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += g[i] / x[i];
}
FR_CLONES void fr_vec_sqrt_backward(int64_t n, const float *y, const float *g, float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += 0.5f * g[i] / y[i];
}
FR_CLONES void fr_vec_pow_backward(int64_t n, float p, const float *x, const float *g, float *dx) {
    if (p == 2.0f) {
        for (int64_t i = 0; i < n; i++)
            dx[i] += 2.0f * g[i] * x[i];
    } else if (p == 1.0f) {
        for (int64_t i = 0; i < n; i++)
            dx[i] += g[i];
    } else if (p == 0.0f) {
        return;
    } else {
        float q = p - 1.0f;
        int qint = pow_is_int(q), qodd = pow_is_odd(q);
        for (int64_t i = 0; i < n; i++)
            dx[i] += g[i] * p * fr_powf_fast(x[i], q, qint, qodd);
    }
}
/* Gradient passes where lo <= x <= hi (PyTorch's rule, bounds inclusive). */
FR_CLONES void fr_vec_clamp_backward(int64_t n, float lo, float hi, const float *x, const float *g,
                                     float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += (x[i] >= lo && x[i] <= hi) ? g[i] : 0.0f;
}

/* ---- row kernels ---- */

/* Max in 16 lanes held as two 8-float GCC vectors: a select written with
 * ?: on scalars does not vectorise (GCC treats it as a non-IEEE max). */
typedef float fr_v8 __attribute__((vector_size(32)));
typedef int32_t fr_v8i __attribute__((vector_size(32)));

FR_CLONES float fr_vec_max(int64_t n, const float *x) {
    fr_v8 a0, a1;
    for (int j = 0; j < 8; j++)
        a0[j] = a1[j] = x[0];
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        fr_v8 v, w;
        __builtin_memcpy(&v, x + i, sizeof v);
        __builtin_memcpy(&w, x + i + 8, sizeof w);
        fr_v8i g0 = v > a0, g1 = w > a1;
        a0 = (fr_v8)(((fr_v8i)v & g0) | ((fr_v8i)a0 & ~g0));
        a1 = (fr_v8)(((fr_v8i)w & g1) | ((fr_v8i)a1 & ~g1));
    }
    float m = x[0];
    for (int j = 0; j < 8; j++) {
        m = a0[j] > m ? a0[j] : m;
        m = a1[j] > m ? a1[j] : m;
    }
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

FR_CLONES static void exp_shifted(int64_t n, const float *x, float m, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fr_expf_fast(x[i] - m);
}

/* sum of exp(x - m), written to y when y != NULL, else through a small
 * stack buffer: two simple loops vectorise where a fused one does not. */
static double sum_exp_shifted(int64_t n, const float *x, float m, float *y) {
    if (y) {
        exp_shifted(n, x, m, y);
        return fr_vec_sum(n, y);
    }
    float buf[512];
    double s = 0;
    for (int64_t i = 0; i < n; i += 512) {
        int64_t k = n - i < 512 ? n - i : 512;
        exp_shifted(k, x + i, m, buf);
        s += fr_vec_sum(k, buf);
    }
    return s;
}

/* A row whose max is not finite (all -inf, +inf, NaN) gives m - m = NaN or
 * exp(-inf - -inf): the result is NaN, as in PyTorch. */
FR_CLONES void fr_vec_softmax_row(int64_t n, const float *x, float *y) {
    float m = fr_vec_max(n, x);
    float inv = (float)(1.0 / sum_exp_shifted(n, x, m, y));
    for (int64_t i = 0; i < n; i++)
        y[i] *= inv;
}

double fr_vec_logsumexp(int64_t n, const float *x) {
    float m = fr_vec_max(n, x);
    return (double)m + log(sum_exp_shifted(n, x, m, NULL));
}

/* (x - m) - log(s) rather than x - lse: exact x - m keeps full precision
 * for large logits, where lse itself would round at float's ulp of |x|. */
FR_CLONES static void sub_shift(int64_t n, const float *x, float m, float l, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - m) - l;
}

double fr_vec_log_softmax_row(int64_t n, const float *x, float *y) {
    float m = fr_vec_max(n, x);
    double ls = log(sum_exp_shifted(n, x, m, NULL));
    sub_shift(n, x, m, (float)ls, y);
    return (double)m + ls;
}

FR_CLONES void fr_vec_softmax_row_backward(int64_t n, const float *y, const float *g, float *dx) {
    float d = fr_vec_dot(n, g, y);
    for (int64_t i = 0; i < n; i++)
        dx[i] += y[i] * (g[i] - d);
}

FR_CLONES void fr_vec_log_softmax_row_backward(int64_t n, const float *y, const float *g,
                                               float *dx) {
    float sg = fr_vec_sum(n, g);
    for (int64_t i = 0; i < n; i++)
        dx[i] += g[i] - fr_expf_fast(y[i]) * sg;
}

FR_CLONES void fr_vec_xent_row_backward(int64_t n, const float *x, double lse, int64_t label,
                                        float smooth, float s, float *dx) {
    float m = fr_vec_max(n, x), l = (float)(lse - m), q = smooth / (float)n;
    for (int64_t i = 0; i < n; i++)
        dx[i] += s * (fr_expf_fast((x[i] - m) - l) - q);
    if (label >= 0) dx[label] -= s * (1.0f - smooth);
}

/* sum (x - m)^2 and sum a * b * (x - m) (b may be NULL), float lanes
 * combined in double. */
FR_CLONES static double sumsq_shifted(int64_t n, const float *x, float m) {
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += (x[i + j] - m) * (x[i + j] - m);
    double s = 0;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    for (; i < n; i++)
        s += (double)(x[i] - m) * (x[i] - m);
    return s;
}

FR_CLONES static double dot_shifted(int64_t n, const float *a, const float *b, const float *x,
                                    float m) {
    float acc[LANES] = {0};
    int64_t i = 0;
    if (b) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++)
                acc[j] += a[i + j] * b[i + j] * (x[i + j] - m);
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++)
                acc[j] += a[i + j] * (x[i + j] - m);
    }
    double s = 0;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    for (; i < n; i++)
        s += (double)a[i] * (b ? b[i] : 1.0f) * (x[i] - m);
    return s;
}

void fr_vec_mean_rstd(int64_t n, const float *x, float eps, int rms, float *mean, float *rstd) {
    float m = rms ? 0.0f : (float)((double)fr_vec_sum(n, x) / (double)n);
    *mean = m;
    *rstd = (float)(1.0 / sqrt(sumsq_shifted(n, x, m) / (double)n + (double)eps));
}

FR_CLONES void fr_vec_norm_apply(int64_t n, const float *x, float mean, float rstd, const float *w,
                                 const float *b, float *y) {
    if (w && b) {
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * rstd * w[i] + b[i];
    } else if (w) {
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * rstd * w[i];
    } else if (b) {
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * rstd + b[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * rstd;
    }
}

FR_CLONES void fr_vec_norm_row_backward(int64_t n, const float *x, const float *g, const float *w,
                                        float mean, float rstd, int rms, float *dx) {
    double s1 = rms ? 0.0 : (w ? fr_vec_dot(n, g, w) : fr_vec_sum(n, g));
    double s2 = dot_shifted(n, g, w, x, mean) * rstd;
    float m1 = (float)(s1 / (double)n), m2 = (float)(s2 / (double)n) * rstd;
    if (w) {
        for (int64_t i = 0; i < n; i++)
            dx[i] += rstd * (g[i] * w[i] - m1) - (x[i] - mean) * m2 * rstd;
    } else {
        for (int64_t i = 0; i < n; i++)
            dx[i] += rstd * (g[i] - m1) - (x[i] - mean) * m2 * rstd;
    }
}

FR_CLONES void fr_vec_norm_wb_acc(int64_t n, const float *x, const float *g, float mean, float rstd,
                                  float *dw, float *db) {
    if (dw)
        for (int64_t i = 0; i < n; i++)
            dw[i] += g[i] * (x[i] - mean) * rstd;
    if (db)
        for (int64_t i = 0; i < n; i++)
            db[i] += g[i];
}

/* ---- loss kernels ---- */

#define BLOCK 1024

/* Block-wise sum of EXPR(i) for i in [i0, i0 + k), k <= BLOCK, float lanes. */
#define LANE_SUM(k, EXPR, out)                                                                     \
    do {                                                                                           \
        float acc_[LANES] = {0};                                                                   \
        int64_t q_ = 0;                                                                            \
        for (; q_ + LANES <= (k); q_ += LANES)                                                     \
            for (int j_ = 0; j_ < LANES; j_++) {                                                   \
                int64_t i = i0 + q_ + j_;                                                          \
                acc_[j_] += (EXPR);                                                                \
            }                                                                                      \
        double s_ = 0;                                                                             \
        for (int j_ = 0; j_ < LANES; j_++)                                                         \
            s_ += acc_[j_];                                                                        \
        for (; q_ < (k); q_++) {                                                                   \
            int64_t i = i0 + q_;                                                                   \
            s_ += (EXPR);                                                                          \
        }                                                                                          \
        (out) = s_;                                                                                \
    } while (0)

FR_CLONES double fr_vec_sqdiff_sum(int64_t n, const float *a, const float *b) {
    double total = 0;
    for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
        int64_t k = n - i0 < BLOCK ? n - i0 : BLOCK;
        double s;
        LANE_SUM(k, (a[i] - b[i]) * (a[i] - b[i]), s);
        total += s;
    }
    return total;
}

FR_CLONES void fr_vec_acc_diff(int64_t n, float s, const float *a, const float *b, float *dx) {
    for (int64_t i = 0; i < n; i++)
        dx[i] += s * (a[i] - b[i]);
}

FR_VM_INLINE float smooth_l1(float d, float beta, float half_inv_beta) {
    float ad = d < 0 ? -d : d;
    return ad < beta ? d * d * half_inv_beta : ad - 0.5f * beta;
}

FR_CLONES double fr_vec_smooth_l1_sum(int64_t n, float beta, const float *a, const float *b) {
    float h = beta > 0 ? 0.5f / beta : 0.0f;
    double total = 0;
    for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
        int64_t k = n - i0 < BLOCK ? n - i0 : BLOCK;
        double s;
        LANE_SUM(k, smooth_l1(a[i] - b[i], beta, h), s);
        total += s;
    }
    return total;
}

FR_CLONES void fr_vec_smooth_l1_backward(int64_t n, float beta, float s, const float *a,
                                         const float *b, float *dx) {
    float ib = beta > 0 ? 1.0f / beta : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float d = a[i] - b[i], ad = d < 0 ? -d : d;
        float sg = d > 0 ? 1.0f : (d < 0 ? -1.0f : 0.0f);
        dx[i] += s * (ad < beta ? d * ib : sg);
    }
}

FR_VM_INLINE float kl_term(float lq, float p) {
    return p == 0.0f ? 0.0f : p * (fr_logf_fast(p) - lq);
}

FR_CLONES double fr_vec_kl_sum(int64_t n, const float *lq, const float *p) {
    double total = 0;
    for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
        int64_t k = n - i0 < BLOCK ? n - i0 : BLOCK;
        double s;
        LANE_SUM(k, kl_term(lq[i], p[i]), s);
        total += s;
    }
    return total;
}

FR_CLONES void fr_vec_kl_backward_p(int64_t n, float s, const float *lq, const float *p,
                                    float *dp) {
    for (int64_t i = 0; i < n; i++)
        dp[i] += p[i] == 0.0f ? 0.0f : s * (fr_logf_fast(p[i]) - lq[i] + 1.0f);
}
