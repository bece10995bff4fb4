/* op_pool.c: max and average pooling over kh x kw windows, and global
 * average pooling, NCHW (x {W,H,C,N}), PyTorch semantics with floor-mode
 * output sizes.
 *
 * ip[] = kh, kw, sh, sw, ph, pw. Padding is implicit: a max never picks a
 * padded cell (padding is limited to half the window, so every window holds
 * a real one; ties and NaNs resolve as PyTorch: the first maximum, and NaN
 * wins), and an average divides by kh*kw whatever the window covers
 * (count_include_pad=True) or, with ip[6] = 1 (fr_avgpool2d_real), by the
 * number of real cells it covers (count_include_pad=False). Max pooling saves the winner's in-plane
 * index (int32, aux) for the backward.
 *
 * Each kernel works on a range of planes (n, c); the reference runs it over
 * all planes in one call, the f32 fast path splits the planes over the
 * thread pool. The arithmetic per plane is the same, so the two agree
 * bitwise.
 *
 * f32 fast path for the common 2x2 window, stride 2, no padding (the CNN's
 * pooling): a branch-free row kernel (target_clones, so the compiler
 * vectorises the stride-2 loads) that picks among the four cells with the
 * same first-max / NaN-wins rule as the generic loop, in the same order
 * ((0,0), (0,1), (1,0), (1,1)); the max backward stays the generic scatter
 * (one add per output). The 2x2 average sums in double in the reference's
 * order. Both agree bitwise with the generic kernels.
 */
#include "../kernels/vec.h"
#include "frugal/kernels.h"
#include "op.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

struct FR_FN(pool_job) {
    fr_t *out;
    int64_t H, W, OH, OW;
    int kh, kw, sh, sw, ph, pw;
    int avx512;     /* f32 2x2 fast path: use the AVX-512 row kernel */
    int count_real; /* average: divide by the real cells only (count_include_pad=False) */
};

static struct FR_FN(pool_job) FR_FN(pool_setup)(fr_t *out) {
    const fr_t *x = out->src[0];
    struct FR_FN(pool_job)
        j = {out,        x->ne[1],   x->ne[0],   out->ne[1], out->ne[0], out->ip[0],
             out->ip[1], out->ip[2], out->ip[3], out->ip[4], out->ip[5]};
    j.count_real = out->ip[6];
    return j;
}

/* Runs fn over all planes: threaded on the f32 fast path, else in one call. */
static void FR_FN(over_planes)(fr_task_fn fn, void *job, int64_t planes, int64_t work) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode()) {
        fr_parallel_for(planes, (1 << 14) / (work + 1) + 1, fn, job);
        return;
    }
#endif
    fn(job, 0, planes, 0);
}

static int64_t FR_FN(nplanes)(const fr_t *t) {
    return t->ne[2] * t->ne[3];
}

static void FR_FN(maxpool_fwd)(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    struct FR_FN(pool_job) *j = vp;
    const real *x = j->out->src[0]->data;
    real *y = j->out->data;
    int32_t *arg = j->out->aux;
    for (int64_t p = p0; p < p1; p++) {
        const real *xp = x + p * j->H * j->W;
        for (int64_t oh = 0; oh < j->OH; oh++)
            for (int64_t ow = 0; ow < j->OW; ow++) {
                int64_t h0 = oh * j->sh - j->ph, w0 = ow * j->sw - j->pw;
                int64_t best_i = -1;
                real best = 0;
                for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + j->kh && ih < j->H; ih++)
                    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + j->kw && iw < j->W; iw++) {
                        real v = xp[ih * j->W + iw];
                        if (best_i < 0 || v > best || (v != v && best == best))
                            best = v, best_i = ih * j->W + iw;
                    }
                int64_t o = (p * j->OH + oh) * j->OW + ow;
                y[o] = best;
                arg[o] = (int32_t)best_i;
            }
    }
}

static void FR_FN(maxpool_bwd)(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    struct FR_FN(pool_job) *j = vp;
    const real *gy = j->out->grad->data;
    real *gx = j->out->src[0]->grad->data;
    const int32_t *arg = j->out->aux;
    int64_t ohw = j->OH * j->OW;
    for (int64_t p = p0; p < p1; p++)
        for (int64_t i = 0; i < ohw; i++)
            gx[p * j->H * j->W + arg[p * ohw + i]] += gy[p * ohw + i];
}

static void FR_FN(avgpool_fwd)(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    struct FR_FN(pool_job) *j = vp;
    const real *x = j->out->src[0]->data;
    real *y = j->out->data;
    double inv = 1.0 / (j->kh * j->kw);
    for (int64_t p = p0; p < p1; p++) {
        const real *xp = x + p * j->H * j->W;
        for (int64_t oh = 0; oh < j->OH; oh++)
            for (int64_t ow = 0; ow < j->OW; ow++) {
                int64_t h0 = oh * j->sh - j->ph, w0 = ow * j->sw - j->pw;
                double s = 0;
                int64_t cells = 0;
                for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + j->kh && ih < j->H; ih++)
                    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + j->kw && iw < j->W; iw++)
                        s += xp[ih * j->W + iw], cells++;
                y[(p * j->OH + oh) * j->OW + ow] =
                    (real)(j->count_real ? s / (double)cells : s * inv);
            }
    }
}

/* The real (unpadded) cells of the window at (h0, w0). */
static int64_t FR_FN(real_cells)(const struct FR_FN(pool_job) * j, int64_t h0, int64_t w0) {
    int64_t h1 = h0 + j->kh < j->H ? h0 + j->kh : j->H, w1 = w0 + j->kw < j->W ? w0 + j->kw : j->W;
    return (h1 - (h0 < 0 ? 0 : h0)) * (w1 - (w0 < 0 ? 0 : w0));
}

static void FR_FN(avgpool_bwd)(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    struct FR_FN(pool_job) *j = vp;
    const real *gy = j->out->grad->data;
    real *gx = j->out->src[0]->grad->data;
    real inv = (real)(1.0 / (j->kh * j->kw));
    for (int64_t p = p0; p < p1; p++) {
        real *gp = gx + p * j->H * j->W;
        for (int64_t oh = 0; oh < j->OH; oh++)
            for (int64_t ow = 0; ow < j->OW; ow++) {
                int64_t h0 = oh * j->sh - j->ph, w0 = ow * j->sw - j->pw;
                real g = gy[(p * j->OH + oh) * j->OW + ow] *
                         (j->count_real ? (real)(1.0 / (double)FR_FN(real_cells)(j, h0, w0)) : inv);
                for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + j->kh && ih < j->H; ih++)
                    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + j->kw && iw < j->W; iw++)
                        gp[ih * j->W + iw] += g;
            }
    }
}

#ifdef FR_PRIMARY
/* ---- 2x2 stride-2 unpadded fast path (f32) ---- */

static int is_2x2(const struct pool_job_f32 *j) {
    return j->kh == 2 && j->kw == 2 && j->sh == 2 && j->sw == 2 && j->ph == 0 && j->pw == 0;
}

/* One output row from input rows x0, x1 (x1 = x0 + W); base is x0's
 * in-plane index. take = best is not NaN and v is not <= best, i.e.
 * v > best, or v NaN while best is not: the generic loop's rule. */
FR_CLONES static void max2x2_row(const float *restrict x0, const float *restrict x1, int64_t OW,
                                 int32_t base, int32_t W, float *restrict y,
                                 int32_t *restrict arg) {
    for (int64_t ow = 0; ow < OW; ow++) {
        float a = x0[2 * ow], b = x0[2 * ow + 1], c = x1[2 * ow], d = x1[2 * ow + 1];
        float best = a;
        int32_t k = 0;
        int t = best == best && !(b <= best);
        best = t ? b : best, k = t ? 1 : k;
        t = best == best && !(c <= best);
        best = t ? c : best, k = t ? W : k;
        t = best == best && !(d <= best);
        best = t ? d : best, k = t ? W + 1 : k;
        y[ow] = best;
        arg[ow] = base + 2 * (int32_t)ow + k;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define POOL_HAVE_AVX512 1
/* The same row on AVX-512: 16 outputs per step, masked loads and stores for
 * the short rows of small images (OW = 14 or 7 in the CNN), where the
 * compiler's vectorised loop would fall back to a branchy scalar tail. The
 * 32 input cells of a row step are split into even and odd columns by two
 * permutes. Same rule, same order as max2x2_row. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void
max2x2_row_avx512(const float *restrict x0, const float *restrict x1, int64_t OW, int32_t base,
                  int32_t W, float *restrict y, int32_t *restrict arg) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512i k1 = _mm512_set1_epi32(1), kW = _mm512_set1_epi32(W),
                  kW1 = _mm512_set1_epi32(W + 1);
    for (int64_t ow = 0; ow < OW; ow += 16) {
        int64_t n = OW - ow < 16 ? OW - ow : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        __mmask16 mlo = (__mmask16)(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
        __mmask16 mhi = (__mmask16)(n <= 8 ? 0 : (1u << (2 * (n - 8))) - 1);
        const float *p0 = x0 + 2 * ow, *p1 = x1 + 2 * ow;
        __m512 l0 = _mm512_maskz_loadu_ps(mlo, p0), h0 = _mm512_maskz_loadu_ps(mhi, p0 + 16);
        __m512 l1 = _mm512_maskz_loadu_ps(mlo, p1), h1 = _mm512_maskz_loadu_ps(mhi, p1 + 16);
        __m512 best = _mm512_permutex2var_ps(l0, ev, h0), b = _mm512_permutex2var_ps(l0, od, h0);
        __m512 c = _mm512_permutex2var_ps(l1, ev, h1), d = _mm512_permutex2var_ps(l1, od, h1);
        __m512i k = _mm512_setzero_si512();
        __mmask16 t;
        t = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q) & _mm512_cmp_ps_mask(b, best, _CMP_NLE_UQ);
        best = _mm512_mask_mov_ps(best, t, b), k = _mm512_mask_mov_epi32(k, t, k1);
        t = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q) & _mm512_cmp_ps_mask(c, best, _CMP_NLE_UQ);
        best = _mm512_mask_mov_ps(best, t, c), k = _mm512_mask_mov_epi32(k, t, kW);
        t = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q) & _mm512_cmp_ps_mask(d, best, _CMP_NLE_UQ);
        best = _mm512_mask_mov_ps(best, t, d), k = _mm512_mask_mov_epi32(k, t, kW1);
        __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(base + 2 * (int32_t)ow), ev);
        _mm512_mask_storeu_ps(y + ow, m, best);
        _mm512_mask_storeu_epi32(arg + ow, m, _mm512_add_epi32(idx, k));
    }
}
#else
#define POOL_HAVE_AVX512 0
#define max2x2_row_avx512 max2x2_row
#endif

FR_CLONES static void avg2x2_row(const float *restrict x0, const float *restrict x1, int64_t OW,
                                 float *restrict y) {
    for (int64_t ow = 0; ow < OW; ow++) {
        double s = 0;
        s += x0[2 * ow];
        s += x0[2 * ow + 1];
        s += x1[2 * ow];
        s += x1[2 * ow + 1];
        y[ow] = (float)(s * 0.25);
    }
}

FR_CLONES static void avg2x2_bwd_row(float *restrict g0, float *restrict g1, int64_t OW,
                                     const float *restrict gy) {
    for (int64_t ow = 0; ow < OW; ow++) {
        float g = gy[ow] * 0.25f;
        g0[2 * ow] += g;
        g0[2 * ow + 1] += g;
        g1[2 * ow] += g;
        g1[2 * ow + 1] += g;
    }
}

/* kind: 0 max forward, 2 avg forward, 3 avg backward (the max backward is
 * the generic scatter, already one add per output). */
static void pool2x2_task(struct pool_job_f32 *j, int64_t p0, int64_t p1, int kind) {
    int64_t H = j->H, W = j->W, OH = j->OH, OW = j->OW;
    const fr_t *x = j->out->src[0];
    for (int64_t p = p0; p < p1; p++)
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t xi = p * H * W + 2 * oh * W, yi = (p * OH + oh) * OW;
            int32_t base = (int32_t)(2 * oh * W);
            switch (kind) {
            case 0:
                (j->avx512 ? max2x2_row_avx512 : max2x2_row)(
                    (const float *)x->data + xi, (const float *)x->data + xi + W, OW, base,
                    (int32_t)W, (float *)j->out->data + yi, (int32_t *)j->out->aux + yi);
                break;
            case 2:
                avg2x2_row((const float *)x->data + xi, (const float *)x->data + xi + W, OW,
                           (float *)j->out->data + yi);
                break;
            default: {
                float *gx = (float *)x->grad->data + xi;
                avg2x2_bwd_row(gx, gx + W, OW, (const float *)j->out->grad->data + yi);
            }
            }
        }
}

static void max2x2_fwd(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    pool2x2_task(vp, p0, p1, 0);
}
static void avg2x2_fwd(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    pool2x2_task(vp, p0, p1, 2);
}
static void avg2x2_bwd(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    pool2x2_task(vp, p0, p1, 3);
}

/* The fast kernel for j's shape, or NULL (then the generic one runs). */
static fr_task_fn fast_2x2(struct pool_job_f32 *j, int kind) {
    if (fr_reference_mode() || !is_2x2(j)) return NULL;
    j->avx512 = POOL_HAVE_AVX512 && fr_cpu_isa() >= FR_ISA_AVX512;
    static const fr_task_fn fns[4] = {max2x2_fwd, NULL, avg2x2_fwd, avg2x2_bwd};
    return fns[kind];
}
#define FAST_2X2(j, kind, fallback) (fast_2x2(&(j), kind) ? fast_2x2(&(j), kind) : (fallback))
#else
#define FAST_2X2(j, kind, fallback) (fallback)
#endif

void FR_FN(fr_op_maxpool2d_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    struct FR_FN(pool_job) j = FR_FN(pool_setup)(out);
    FR_FN(over_planes)
    (FAST_2X2(j, 0, FR_FN(maxpool_fwd)), &j, FR_FN(nplanes)(out),
     fr_nelem(out->src[0]) / FR_FN(nplanes)(out) * 2);
}
void FR_FN(fr_op_maxpool2d_backward)(struct fr_ctx *ctx, fr_t *out) {
    if (!fr_op_grad(ctx, out->src[0])) return;
    struct FR_FN(pool_job) j = FR_FN(pool_setup)(out);
    FR_FN(over_planes)(FR_FN(maxpool_bwd), &j, FR_FN(nplanes)(out), j.OH * j.OW);
}
void FR_FN(fr_op_avgpool2d_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    struct FR_FN(pool_job) j = FR_FN(pool_setup)(out);
    FR_FN(over_planes)
    (FAST_2X2(j, 2, FR_FN(avgpool_fwd)), &j, FR_FN(nplanes)(out), j.OH * j.OW * j.kh * j.kw);
}
void FR_FN(fr_op_avgpool2d_backward)(struct fr_ctx *ctx, fr_t *out) {
    if (!fr_op_grad(ctx, out->src[0])) return;
    struct FR_FN(pool_job) j = FR_FN(pool_setup)(out);
    FR_FN(over_planes)
    (FAST_2X2(j, 3, FR_FN(avgpool_bwd)), &j, FR_FN(nplanes)(out), j.OH * j.OW * j.kh * j.kw);
}

/* global average: out {C, N}, one mean per plane of x. */
static void FR_FN(gap_fwd)(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    fr_t *out = vp;
    const fr_t *x = out->src[0];
    int64_t hw = x->ne[0] * x->ne[1];
    const real *xd = x->data;
    real *y = out->data;
    for (int64_t p = p0; p < p1; p++) {
        double s = 0;
        for (int64_t i = 0; i < hw; i++)
            s += xd[p * hw + i];
        y[p] = (real)(s / (double)hw);
    }
}

static void FR_FN(gap_bwd)(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    fr_t *out = vp;
    const fr_t *x = out->src[0];
    int64_t hw = x->ne[0] * x->ne[1];
    real *gx = x->grad->data;
    const real *gy = out->grad->data;
    for (int64_t p = p0; p < p1; p++) {
        real g = gy[p] / (real)hw;
        for (int64_t i = 0; i < hw; i++)
            gx[p * hw + i] += g;
    }
}

void FR_FN(fr_op_global_avgpool_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    const fr_t *x = out->src[0];
    FR_FN(over_planes)(FR_FN(gap_fwd), out, FR_FN(nplanes)(x), x->ne[0] * x->ne[1]);
}
void FR_FN(fr_op_global_avgpool_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *x = out->src[0];
    if (!fr_op_grad(ctx, x)) return;
    FR_FN(over_planes)(FR_FN(gap_bwd), out, FR_FN(nplanes)(x), x->ne[0] * x->ne[1]);
}

#ifdef FR_PRIMARY
static fr_t *pool(struct fr_ctx *ctx, int op, const char *who, fr_t *x, int kh, int kw, int sh,
                  int sw, int ph, int pw, int count_real) {
    if (!x) return NULL;
    if (fr_op_check_float(who, x, NULL, NULL)) return NULL;
    char s[64];
    if (x->ndim < 3) {
        fr_error(FR_EINVAL, "%s: input %s must be 4-d (N, C, H, W)", who,
                 fr_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (sh == 0) sh = kh;
    if (sw == 0) sw = kw;
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw) {
        fr_error(FR_EINVAL,
                 "%s: window %dx%d, stride %dx%d, padding %dx%d: window and stride "
                 "must be positive, padding at most half the window",
                 who, kh, kw, sh, sw, ph, pw);
        return NULL;
    }
    int64_t H = x->ne[1], W = x->ne[0];
    if (kh > H + 2 * ph || kw > W + 2 * pw) {
        fr_error(FR_EINVAL, "%s: window %dx%d is bigger than the padded input %lldx%lld", who, kh,
                 kw, (long long)(H + 2 * ph), (long long)(W + 2 * pw));
        return NULL;
    }
    if (H * W > INT32_MAX) {
        fr_error(FR_EINVAL, "%s: plane of %lld elements is too large", who, (long long)(H * W));
        return NULL;
    }
    x = fr_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t ne[4] = {(W + 2 * pw - kw) / sw + 1, (H + 2 * ph - kh) / sh + 1, x->ne[2], x->ne[3]};
    fr_t *out = fr_op_new(ctx, op, x->dtype, x->ndim, ne, x, NULL, NULL, NULL);
    if (!out) return NULL;
    int32_t ip[7] = {kh, kw, sh, sw, ph, pw, count_real};
    memcpy(out->ip, ip, sizeof ip);
    if (op == FR_OP_MAXPOOL2D && !(out->aux = fr_ctx_alloc(ctx, (size_t)fr_nelem(out) * 4)))
        return NULL;
    return fr_op_run(ctx, out);
}

fr_t *fr_maxpool2d(struct fr_ctx *ctx, fr_t *x, int kh, int kw, int sh, int sw, int ph, int pw) {
    return pool(ctx, FR_OP_MAXPOOL2D, "maxpool2d", x, kh, kw, sh, sw, ph, pw, 0);
}

fr_t *fr_avgpool2d(struct fr_ctx *ctx, fr_t *x, int kh, int kw, int sh, int sw, int ph, int pw) {
    return pool(ctx, FR_OP_AVGPOOL2D, "avgpool2d", x, kh, kw, sh, sw, ph, pw, 0);
}

fr_t *fr_avgpool2d_real(struct fr_ctx *ctx, fr_t *x, int kh, int kw, int sh, int sw, int ph,
                        int pw) {
    return pool(ctx, FR_OP_AVGPOOL2D, "avgpool2d", x, kh, kw, sh, sw, ph, pw, 1);
}

fr_t *fr_global_avgpool(struct fr_ctx *ctx, fr_t *x) {
    if (!x) return NULL;
    if (fr_op_check_float("global_avgpool", x, NULL, NULL)) return NULL;
    char s[64];
    if (x->ndim < 3 || x->ne[0] * x->ne[1] == 0) {
        fr_error(FR_EINVAL, "global_avgpool: input %s must be 4-d (N, C, H, W), non-empty",
                 fr_shape_str(x, s, sizeof s));
        return NULL;
    }
    x = fr_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t ne[2] = {x->ne[2], x->ne[3]};
    return fr_op_run(ctx,
                     fr_op_new(ctx, FR_OP_GLOBAL_AVGPOOL, x->dtype, 2, ne, x, NULL, NULL, NULL));
}
#endif
