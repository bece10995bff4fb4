/* op_conv.c: 2-d convolution (NCHW, PyTorch semantics): stride, zero
 * padding, dilation, groups (depthwise included), optional bias.
 *
 * x {W,H,Cin,N}, w {KW,KH,Cin/G,Cout}, bias {Cout}; out {OW,OH,Cout,N} with
 * OH = (H + 2ph - dh(KH-1) - 1)/sh + 1. ip[] = sh, sw, ph, pw, dh, dw, G.
 *
 * Reference (f64, and f32 in reference mode): the direct 7-deep loop nest,
 * independent of im2col and GEMM. Fast path (f32):
 *  - depthwise (G == Cin == Cout, stride 1, dilation 1, pad < kernel): the
 *    direct kernels of kernels/conv.h, threaded over planes (forward, dx)
 *    and over channels (dw, db);
 *  - otherwise im2col + fr_gemm per image and group (a 1x1 stride-1
 *    unpadded conv uses the input as its own column matrix), threaded over
 *    images with per-thread column buffers and weight-gradient partials
 *    taken from the arena once per call; with fewer images than threads the
 *    images run in turn and the GEMM threads instead. The input gradient is
 *    W^T dY then col2im. The weight gradient is dY col^T, or its transpose
 *    col dY^T when the layer has fewer column rows than output channels
 *    (the GEMM is fastest with the larger side as N).
 * The constructor makes x, w and bias contiguous, so kernels index them
 * directly.
 */
#include "../kernels/conv.h"
#include "../kernels/vec.h"
#include "../kernels/vec_math.h"
#include "frugal/kernels.h"
#include "op.h"

/* Sizes of one conv call, read from the output node. */
struct FR_FN(conv_dims) {
    struct fr_conv_geom g; /* g.C = Cin */
    int64_t N, O, G, Cg, Og;
};

static struct FR_FN(conv_dims) FR_FN(dims)(const fr_t *out) {
    const fr_t *x = out->src[0], *w = out->src[1];
    struct FR_FN(conv_dims) d;
    d.g.W = x->ne[0], d.g.H = x->ne[1], d.g.C = x->ne[2];
    d.N = x->ne[3];
    d.g.KW = w->ne[0], d.g.KH = w->ne[1];
    d.O = w->ne[3];
    d.g.sh = out->ip[0], d.g.sw = out->ip[1], d.g.ph = out->ip[2], d.g.pw = out->ip[3];
    d.g.dh = out->ip[4], d.g.dw = out->ip[5];
    /* the convolution's own output size (the fused op's output is pooled) */
    d.g.OH = (d.g.H + 2 * d.g.ph - d.g.dh * (d.g.KH - 1) - 1) / d.g.sh + 1;
    d.g.OW = (d.g.W + 2 * d.g.pw - d.g.dw * (d.g.KW - 1) - 1) / d.g.sw + 1;
    d.G = out->ip[6];
    d.Cg = d.g.C / d.G, d.Og = d.O / d.G;
    return d;
}

/* ---- reference: direct loops ---- */

static void FR_FN(conv_ref_forward)(fr_t *out, real *y) {
    struct FR_FN(conv_dims) d = FR_FN(dims)(out);
    const struct fr_conv_geom *g = &d.g;
    const real *x = out->src[0]->data, *w = out->src[1]->data;
    const real *b = out->src[2] ? out->src[2]->data : NULL;
    for (int64_t n = 0; n < d.N; n++)
        for (int64_t o = 0; o < d.O; o++) {
            int64_t c0 = o / d.Og * d.Cg;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    double s = b ? b[o] : 0;
                    for (int64_t c = 0; c < d.Cg; c++)
                        for (int64_t kh = 0; kh < g->KH; kh++) {
                            int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                                if (iw < 0 || iw >= g->W) continue;
                                s += (double)x[((n * g->C + c0 + c) * g->H + ih) * g->W + iw] *
                                     w[((o * d.Cg + c) * g->KH + kh) * g->KW + kw];
                            }
                        }
                    y[((n * d.O + o) * g->OH + oh) * g->OW + ow] = (real)s;
                }
        }
}

static void FR_FN(conv_ref_backward)(real *gx, real *gw, real *gb, fr_t *out, const real *gy) {
    struct FR_FN(conv_dims) d = FR_FN(dims)(out);
    const struct fr_conv_geom *g = &d.g;
    const real *x = out->src[0]->data, *w = out->src[1]->data;
    for (int64_t n = 0; n < d.N; n++)
        for (int64_t o = 0; o < d.O; o++) {
            int64_t c0 = o / d.Og * d.Cg;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    real dy = gy[((n * d.O + o) * g->OH + oh) * g->OW + ow];
                    if (gb) gb[o] += dy;
                    for (int64_t c = 0; c < d.Cg; c++)
                        for (int64_t kh = 0; kh < g->KH; kh++) {
                            int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                                if (iw < 0 || iw >= g->W) continue;
                                int64_t xi = ((n * g->C + c0 + c) * g->H + ih) * g->W + iw;
                                int64_t wi = ((o * d.Cg + c) * g->KH + kh) * g->KW + kw;
                                if (gx) gx[xi] += dy * w[wi];
                                if (gw) gw[wi] += dy * x[xi];
                            }
                        }
                }
        }
}

/* ---- the fused epilogue of conv2d_relu_pool (both precisions) ----
 * On one image's convolution output y (O planes of OH x OW, bias added):
 * ReLU, then (pool 2) a 2x2 stride-2 max pool, floor size, keeping each
 * window's winner k (0..3: row-major in the window) for the backward.
 * The ReLU and the pool follow fr_relu and fr_maxpool2d exactly (NaN
 * passes the ReLU; a later cell wins only when the best so far is not NaN
 * and the cell is not <= it), so the fused op equals the composition. */
static inline real FR_FN(relu1)(real v) {
    return (v > 0 || v != v) ? v : 0;
}

static void FR_FN(relu_pool_image)(const real *y, int64_t O, int64_t OH, int64_t OW, int pool,
                                   real *out, uint8_t *arg) {
    if (pool == 1) {
        for (int64_t i = 0; i < O * OH * OW; i++)
            out[i] = FR_FN(relu1)(y[i]);
        return;
    }
    int64_t PH = OH / 2, PW = OW / 2;
    for (int64_t o = 0; o < O; o++)
        for (int64_t ph = 0; ph < PH; ph++) {
            const real *r0 = y + (o * OH + 2 * ph) * OW, *r1 = r0 + OW;
            real *po = out + (o * PH + ph) * PW;
            uint8_t *pa = arg + (o * PH + ph) * PW;
            for (int64_t pw = 0; pw < PW; pw++) {
                real v[4] = {FR_FN(relu1)(r0[2 * pw]), FR_FN(relu1)(r0[2 * pw + 1]),
                             FR_FN(relu1)(r1[2 * pw]), FR_FN(relu1)(r1[2 * pw + 1])};
                real best = v[0];
                int k = 0;
                for (int c = 1; c < 4; c++)
                    if (best == best && !(v[c] <= best)) best = v[c], k = c;
                po[pw] = best;
                pa[pw] = (uint8_t)k;
            }
        }
}

/* The convolution's output gradient dy (O planes OH x OW) for one image,
 * from the fused output's gradient gout: the pool sends it to the window's
 * winner, the ReLU passes it where the winner was positive (out > 0). */
static void FR_FN(relu_pool_grad_image)(const real *gout, const real *out, const uint8_t *arg,
                                        int64_t O, int64_t OH, int64_t OW, int pool, real *dy) {
    if (pool == 1) {
        for (int64_t i = 0; i < O * OH * OW; i++)
            dy[i] = out[i] > 0 ? gout[i] : 0;
        return;
    }
    int64_t PH = OH / 2, PW = OW / 2;
    memset(dy, 0, (size_t)(O * OH * OW) * sizeof(real));
    for (int64_t o = 0; o < O; o++)
        for (int64_t ph = 0; ph < PH; ph++)
            for (int64_t pw = 0; pw < PW; pw++) {
                int64_t i = (o * PH + ph) * PW + pw;
                if (!(out[i] > 0)) continue;
                int k = arg[i];
                dy[(o * OH + 2 * ph + (k >> 1)) * OW + 2 * pw + (k & 1)] = gout[i];
            }
}

#ifdef FR_PRIMARY
/* ---- fast path (f32) ---- */

static int is_depthwise_fast(const struct conv_dims_f32 *d) {
    const struct fr_conv_geom *g = &d->g;
    return d->Cg == 1 && d->Og == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
           g->ph < g->KH && g->pw < g->KW;
}

static int is_pointwise(const struct fr_conv_geom *g) {
    return g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* The fused epilogue's fast rows (the same rules as relu_pool_image and
 * relu_pool_grad_image above, which the tests compare them with through
 * the composition): one pooled row from conv rows x0, x1. */
FR_CLONES static void relu_pool_row(const float *restrict x0, const float *restrict x1, int64_t PW,
                                    float *restrict y, uint8_t *restrict arg) {
    for (int64_t pw = 0; pw < PW; pw++) {
        float v0 = x0[2 * pw], v1 = x0[2 * pw + 1], v2 = x1[2 * pw], v3 = x1[2 * pw + 1];
        v0 = (v0 > 0.0f || v0 != v0) ? v0 : 0.0f;
        v1 = (v1 > 0.0f || v1 != v1) ? v1 : 0.0f;
        v2 = (v2 > 0.0f || v2 != v2) ? v2 : 0.0f;
        v3 = (v3 > 0.0f || v3 != v3) ? v3 : 0.0f;
        float best = v0;
        int k = 0, t;
        t = best == best && !(v1 <= best);
        best = t ? v1 : best, k = t ? 1 : k;
        t = best == best && !(v2 <= best);
        best = t ? v2 : best, k = t ? 2 : k;
        t = best == best && !(v3 <= best);
        best = t ? v3 : best, k = t ? 3 : k;
        y[pw] = best;
        arg[pw] = (uint8_t)k;
    }
}

static void relu_pool_grad_row(const float *restrict gout, const float *restrict out,
                               const uint8_t *restrict arg, int64_t PW, int64_t OW,
                               float *restrict d0, float *restrict d1);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONV_HAVE_AVX512 1
/* The same row, 16 pooled outputs per step: even and odd columns split by
 * two permutes, the ReLU as a mask (v > 0 or NaN keeps v). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void
relu_pool_row_avx512(const float *restrict x0, const float *restrict x1, int64_t PW,
                     float *restrict y, uint8_t *restrict arg) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512 z = _mm512_setzero_ps();
    for (int64_t pw = 0; pw < PW; pw += 16) {
        int64_t n = PW - pw < 16 ? PW - pw : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        __mmask16 mlo = (__mmask16)(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
        __mmask16 mhi = (__mmask16)(n <= 8 ? 0 : (1u << (2 * (n - 8))) - 1);
        const float *p0 = x0 + 2 * pw, *p1 = x1 + 2 * pw;
        __m512 l0 = _mm512_maskz_loadu_ps(mlo, p0), h0 = _mm512_maskz_loadu_ps(mhi, p0 + 16);
        __m512 l1 = _mm512_maskz_loadu_ps(mlo, p1), h1 = _mm512_maskz_loadu_ps(mhi, p1 + 16);
        __m512 v[4] = {_mm512_permutex2var_ps(l0, ev, h0), _mm512_permutex2var_ps(l0, od, h0),
                       _mm512_permutex2var_ps(l1, ev, h1), _mm512_permutex2var_ps(l1, od, h1)};
        for (int c = 0; c < 4; c++) /* ReLU: keep v where v > 0 or v is NaN */
            v[c] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v[c], z, _CMP_NLE_UQ), v[c]);
        __m512 best = v[0];
        __m512i k = _mm512_setzero_si512();
        for (int c = 1; c < 4; c++) {
            __mmask16 t = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q) &
                          _mm512_cmp_ps_mask(v[c], best, _CMP_NLE_UQ);
            best = _mm512_mask_mov_ps(best, t, v[c]);
            k = _mm512_mask_mov_epi32(k, t, _mm512_set1_epi32(c));
        }
        _mm512_mask_storeu_ps(y + pw, m, best);
        _mm512_mask_cvtepi32_storeu_epi8(arg + pw, m, k);
    }
}

/* The gradient row (relu_pool_grad_row's contract), 16 pooled cells per
 * step: each window's four cells selected by the winner k, interleaved
 * back into the two conv rows by two permutes each. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void
relu_pool_grad_row_avx512(const float *restrict gout, const float *restrict out,
                          const uint8_t *restrict arg, int64_t PW, int64_t OW, float *restrict d0,
                          float *restrict d1) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const __m512 z = _mm512_setzero_ps();
    int64_t pw = 0;
    for (; pw < PW; pw += 16) {
        int64_t n = PW - pw < 16 ? PW - pw : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        __mmask16 mlo = (__mmask16)(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
        __mmask16 mhi = (__mmask16)(n <= 8 ? 0 : (1u << (2 * (n - 8))) - 1);
        __m512 g = _mm512_maskz_loadu_ps(m, gout + pw);
        g = _mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, out + pw), z, _CMP_GT_OQ), g);
        __m512i k = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, arg + pw));
        __m512 e[4];
        for (int c = 0; c < 4; c++)
            e[c] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(c)), g);
        _mm512_mask_storeu_ps(d0 + 2 * pw, mlo, _mm512_permutex2var_ps(e[0], lo, e[1]));
        _mm512_mask_storeu_ps(d0 + 2 * pw + 16, mhi, _mm512_permutex2var_ps(e[0], hi, e[1]));
        _mm512_mask_storeu_ps(d1 + 2 * pw, mlo, _mm512_permutex2var_ps(e[2], lo, e[3]));
        _mm512_mask_storeu_ps(d1 + 2 * pw + 16, mhi, _mm512_permutex2var_ps(e[2], hi, e[3]));
    }
    for (int64_t c = 2 * PW; c < OW; c++)
        d0[c] = d1[c] = 0.0f;
}
#else
#define CONV_HAVE_AVX512 0
#define relu_pool_row_avx512 relu_pool_row
#define relu_pool_grad_row_avx512 relu_pool_grad_row
#endif

/* One pooled output row's gradient into conv rows d0, d1 (OW wide; an odd
 * last column gets 0). */
FR_CLONES static void relu_pool_grad_row(const float *restrict gout, const float *restrict out,
                                         const uint8_t *restrict arg, int64_t PW, int64_t OW,
                                         float *restrict d0, float *restrict d1) {
    for (int64_t pw = 0; pw < PW; pw++) {
        float g = out[pw] > 0.0f ? gout[pw] : 0.0f;
        int k = arg[pw];
        d0[2 * pw] = k == 0 ? g : 0.0f;
        d0[2 * pw + 1] = k == 1 ? g : 0.0f;
        d1[2 * pw] = k == 2 ? g : 0.0f;
        d1[2 * pw + 1] = k == 3 ? g : 0.0f;
    }
    for (int64_t c = 2 * PW; c < OW; c++)
        d0[c] = d1[c] = 0.0f;
}

static void relu_pool_image_fast(const float *y, int64_t O, int64_t OH, int64_t OW, int pool,
                                 float *out, uint8_t *arg) {
    if (pool == 1) {
        fr_vec_relu(O * OH * OW, y, out);
        return;
    }
    int64_t PH = OH / 2, PW = OW / 2;
    int wide = CONV_HAVE_AVX512 && fr_cpu_isa() >= FR_ISA_AVX512;
    for (int64_t o = 0; o < O; o++)
        for (int64_t ph = 0; ph < PH; ph++) {
            const float *r0 = y + (o * OH + 2 * ph) * OW;
            int64_t i = (o * PH + ph) * PW;
            (wide ? relu_pool_row_avx512 : relu_pool_row)(r0, r0 + OW, PW, out + i, arg + i);
        }
}

static void relu_pool_grad_image_fast(const float *gout, const float *out, const uint8_t *arg,
                                      int64_t O, int64_t OH, int64_t OW, int pool, float *dy) {
    if (pool == 1) {
        relu_pool_grad_image_f32(gout, out, arg, O, OH, OW, pool, dy);
        return;
    }
    int64_t PH = OH / 2, PW = OW / 2;
    int wide = CONV_HAVE_AVX512 && fr_cpu_isa() >= FR_ISA_AVX512;
    for (int64_t o = 0; o < O; o++) {
        for (int64_t ph = 0; ph < PH; ph++) {
            float *d0 = dy + (o * OH + 2 * ph) * OW;
            int64_t i = (o * PH + ph) * PW;
            (wide ? relu_pool_grad_row_avx512 : relu_pool_grad_row)(gout + i, out + i, arg + i, PW,
                                                                    OW, d0, d0 + OW);
        }
        if (OH & 1) memset(dy + (o * OH + OH - 1) * OW, 0, (size_t)OW * sizeof(float));
    }
}

struct conv_job {
    struct conv_dims_f32 d;
    const float *x, *w, *b, *gy;
    float *y, *gx, *gw, *gb;
    float *scratch; /* per-thread blocks of `per` floats */
    size_t per;
    int64_t kk; /* Cg*KH*KW: one group's column rows */
    int pointwise;
    int wT; /* weight-gradient partials kept transposed (kk x Og per group) */
    /* conv2d_relu_pool: pool 1 or 2 (0: a plain conv); its output and
     * gradient (pooled), the winners, and where each thread's conv output
     * (forward) or conv output gradient (backward) sits in its scratch */
    int pool;
    float *pout;
    const float *gout;
    uint8_t *arg;
    size_t yoff;
};

static void dw_fwd_task(void *vp, int64_t p0, int64_t p1, int tid) {
    struct conv_job *j = vp;
    const struct fr_conv_geom *g = &j->d.g;
    float *s = j->scratch + (size_t)tid * j->per;
    for (int64_t p = p0; p < p1; p++) {
        int64_t c = p % g->C;
        fr_dw_forward(g, j->x + p * g->H * g->W, j->w + c * g->KH * g->KW, j->b ? j->b[c] : 0.0f,
                      j->y + p * g->OH * g->OW, s);
    }
}

static void dw_bwd_input_task(void *vp, int64_t p0, int64_t p1, int tid) {
    struct conv_job *j = vp;
    const struct fr_conv_geom *g = &j->d.g;
    float *s = j->scratch + (size_t)tid * j->per;
    for (int64_t p = p0; p < p1; p++)
        fr_dw_backward_input(g, j->gy + p * g->OH * g->OW, j->w + p % g->C * g->KH * g->KW,
                             j->gx + p * g->H * g->W, s);
}

/* Channels [c0, c1): weight and bias gradients summed over the batch. */
static void dw_bwd_weight_task(void *vp, int64_t c0, int64_t c1, int tid) {
    struct conv_job *j = vp;
    const struct fr_conv_geom *g = &j->d.g;
    float *s = j->scratch + (size_t)tid * j->per;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t n = 0; n < j->d.N; n++) {
            int64_t p = n * g->C + c;
            const float *dy = j->gy + p * g->OH * g->OW;
            if (j->gw)
                fr_dw_backward_weight(g, j->x + p * g->H * g->W, dy, j->gw + c * g->KH * g->KW, s);
            if (j->gb) {
                double t = 0;
                for (int64_t i = 0; i < g->OH * g->OW; i++)
                    t += dy[i];
                j->gb[c] += (float)t;
            }
        }
}

/* Image n's matrix for the GEMM: im2col of it into scratch, or (a
 * pointwise conv) the image itself. */
static float *image_cols(const struct fr_conv_geom *g, const float *x, int64_t n, int pointwise,
                         float *scratch) {
    const float *xn = x + n * g->C * g->H * g->W;
    if (pointwise) return (float *)xn;
    fr_im2col(g, xn, scratch);
    return scratch;
}

/* y[o][0..ohw) += b[o] for the rows [o0, o1) of one image (b NULL: none). */
static void add_bias(float *y, const float *b, int64_t o0, int64_t o1, int64_t ohw) {
    if (b)
        for (int64_t o = o0; o < o1; o++)
            for (int64_t i = 0; i < ohw; i++)
                y[o * ohw + i] += b[o];
}

/* Images [n0, n1): y = W_g @ im2col(x) (+ bias), group by group. */
static void gemm_fwd_task(void *vp, int64_t n0, int64_t n1, int tid) {
    struct conv_job *j = vp;
    const struct conv_dims_f32 *d = &j->d;
    const struct fr_conv_geom *g = &d->g;
    int64_t ohw = g->OH * g->OW;
    float *base = j->scratch + (size_t)tid * j->per, *col;
    int64_t pooled = j->pool ? d->O * (g->OH / j->pool) * (g->OW / j->pool) : 0;
    for (int64_t n = n0; n < n1; n++) {
        col = image_cols(g, j->x, n, j->pointwise, base);
        float *yn = j->pool ? base + j->yoff : j->y + n * d->O * ohw;
        for (int64_t gr = 0; gr < d->G; gr++)
            fr_gemm(0, 0, d->Og, ohw, j->kk, 1.0f, j->w + gr * d->Og * j->kk, j->kk,
                    col + gr * j->kk * ohw, ohw, 0.0f, yn + gr * d->Og * ohw, ohw);
        add_bias(yn, j->b, 0, d->O, ohw);
        if (j->pool) /* while the image's output is in cache */
            relu_pool_image_fast(yn, d->O, g->OH, g->OW, j->pool, j->pout + n * pooled,
                                 j->arg ? j->arg + n * pooled : NULL);
    }
}

/* Images [n0, n1): per-thread dW/db partials, and dx through col2im.
 * Scratch per thread: col | dcol | dW partial | db partial. */
static void gemm_bwd_task(void *vp, int64_t n0, int64_t n1, int tid) {
    struct conv_job *j = vp;
    const struct conv_dims_f32 *d = &j->d;
    const struct fr_conv_geom *g = &d->g;
    int64_t ohw = g->OH * g->OW, colsz = j->pointwise ? 0 : g->C * g->KH * g->KW * ohw;
    float *base = j->scratch + (size_t)tid * j->per;
    float *col = base, *dcol = base + colsz, *pw = base + j->yoff + (j->pool ? d->O * ohw : 0);
    float *pb = pw + d->O * j->kk;
    int64_t pooled = j->pool ? d->O * (g->OH / j->pool) * (g->OW / j->pool) : 0;
    for (int64_t n = n0; n < n1; n++) {
        const float *xn = j->x + n * g->C * g->H * g->W;
        const float *gyn = j->pool ? NULL : j->gy + n * d->O * ohw;
        if (j->pool) { /* the conv's output gradient, rebuilt in cache */
            relu_pool_grad_image_fast(j->gout + n * pooled, j->pout + n * pooled,
                                      j->arg ? j->arg + n * pooled : NULL, d->O, g->OH, g->OW,
                                      j->pool, base + j->yoff);
            gyn = base + j->yoff;
        }
        float *gxn = j->gx ? j->gx + n * g->C * g->H * g->W : NULL;
        if (j->gw) {
            const float *cn = xn;
            if (!j->pointwise) {
                fr_im2col(g, xn, col);
                cn = col;
            }
            for (int64_t gr = 0; gr < d->G; gr++)
                if (j->wT) /* dW_g^T (kk x Og) += col_g @ dY_g^T */
                    fr_gemm(0, 1, j->kk, d->Og, ohw, 1.0f, cn + gr * j->kk * ohw, ohw,
                            gyn + gr * d->Og * ohw, ohw, 1.0f, pw + gr * d->Og * j->kk, d->Og);
                else /* dW_g (Og x kk) += dY_g @ col_g^T */
                    fr_gemm(0, 1, d->Og, j->kk, ohw, 1.0f, gyn + gr * d->Og * ohw, ohw,
                            cn + gr * j->kk * ohw, ohw, 1.0f, pw + gr * d->Og * j->kk, j->kk);
        }
        if (j->gb)
            for (int64_t o = 0; o < d->O; o++)
                pb[o] += (float)fr_vec_sum_f64(ohw, gyn + o * ohw);
        if (gxn) {
            float *dst = j->pointwise ? gxn : dcol;
            for (int64_t gr = 0; gr < d->G; gr++)
                fr_gemm(1, 0, j->kk, ohw, d->Og, 1.0f, j->w + gr * d->Og * j->kk, j->kk,
                        gyn + gr * d->Og * ohw, ohw, j->pointwise ? 1.0f : 0.0f,
                        dst + gr * j->kk * ohw, ohw);
            if (!j->pointwise) fr_col2im(g, dcol, gxn);
        }
    }
}

/* ---- inference with a sparse weight (the weight's CSR, kernels.h) ---- */

struct sparse_job {
    const struct conv_dims_f32 *d;
    const struct fr_csr *A;
    const float *x, *b, *col; /* col: the one image's matrix (row split) */
    float *y, *scratch;
    size_t per;
    int pointwise;
    int64_t n; /* the image (row split) */
};

/* Images [n0, n1), each whole: im2col, then every row of Y = A col. */
static void sparse_image_task(void *vp, int64_t n0, int64_t n1, int tid) {
    struct sparse_job *j = vp;
    const struct fr_conv_geom *g = &j->d->g;
    const int64_t ohw = g->OH * g->OW;
    float *scratch = j->scratch + (size_t)tid * j->per;
    for (int64_t n = n0; n < n1; n++) {
        const float *col = image_cols(g, j->x, n, j->pointwise, scratch);
        float *yn = j->y + n * j->d->O * ohw;
        fr_csr_rows(j->A, 0, j->d->O, col, ohw, ohw, yn, ohw);
        add_bias(yn, j->b, 0, j->d->O, ohw);
    }
}

/* Output rows [o0, o1) of image j->n (its matrix already in j->col). */
static void sparse_rows_task(void *vp, int64_t o0, int64_t o1, int tid) {
    (void)tid;
    struct sparse_job *j = vp;
    const int64_t ohw = j->d->g.OH * j->d->g.OW;
    float *yn = j->y + j->n * j->d->O * ohw;
    fr_csr_rows(j->A, o0, o1, j->col, ohw, ohw, yn, ohw);
    add_bias(yn, j->b, o0, o1, ohw);
}

/* 1 when the weight's CSR ran the forward (no gradient recorded, one
 * group, the CSR's shape), 0 to take the dense path. */
static int conv_sparse_forward(struct fr_ctx *ctx, fr_t *out, const struct conv_dims_f32 *d) {
    const struct fr_csr *A = out->src[1]->csr;
    const struct fr_conv_geom *g = &d->g;
    const int64_t kk = g->C * g->KH * g->KW, ohw = g->OH * g->OW;
    if (!A || out->requires_grad || d->G != 1 || A->rows != d->O || A->cols != kk) return 0;
    struct sparse_job j = {.d = d, .A = A, .x = out->src[0]->data, .y = out->data};
    j.b = out->src[2] ? out->src[2]->data : NULL;
    j.pointwise = is_pointwise(g);
    j.per = j.pointwise ? 16 : ((size_t)(kk * ohw) + 15) & ~(size_t)15;
    int nt = fr_threads_get();
    if (d->N >= nt) {
        if (!(j.scratch = fr_ctx_alloc(ctx, (size_t)nt * j.per * sizeof(float)))) return 0;
        fr_parallel_for(d->N, 1, sparse_image_task, &j);
        return 1;
    }
    float *col = fr_ctx_alloc(ctx, j.per * sizeof(float));
    if (!col) return 0;
    for (int64_t n = 0; n < d->N; n++) { /* few images: threads split the rows */
        j.col = image_cols(g, j.x, n, j.pointwise, col);
        j.n = n;
        fr_parallel_for(d->O, 4, sparse_rows_task, &j);
    }
    return 1;
}

/* Threads over images when there are enough of them, else over the GEMM. */
static int64_t image_grain(int64_t N) {
    return N >= fr_threads_get() ? 1 : N;
}

static int conv_fast_forward(struct fr_ctx *ctx, fr_t *out, int pool) {
    struct conv_job j = {.d = dims_f32(out), .pool = pool};
    const struct fr_conv_geom *g = &j.d.g;
    j.x = out->src[0]->data, j.w = out->src[1]->data;
    j.b = out->src[2] ? out->src[2]->data : NULL;
    if (pool)
        j.pout = out->data, j.arg = out->aux;
    else
        j.y = out->data;
    int nt = fr_threads_get();
    if (!pool && conv_sparse_forward(ctx, out, &j.d)) return 1;
    if (!pool && is_depthwise_fast(&j.d)) {
        j.per = (fr_dw_scratch_floats(g) + 15) & ~(size_t)15;
        if (!(j.scratch = fr_ctx_alloc(ctx, (size_t)nt * j.per * sizeof(float)))) return 0;
        fr_parallel_for(j.d.N * g->C, 1, dw_fwd_task, &j);
        return 1;
    }
    j.kk = j.d.Cg * g->KH * g->KW;
    j.pointwise = is_pointwise(g);
    j.yoff = j.pointwise ? 16 : ((size_t)(g->C * g->KH * g->KW * g->OH * g->OW) + 15) & ~(size_t)15;
    j.per = j.yoff + (pool ? ((size_t)(j.d.O * g->OH * g->OW) + 15) & ~(size_t)15 : 0);
    if (!(j.scratch = fr_ctx_alloc(ctx, (size_t)nt * j.per * sizeof(float)))) return 0;
    fr_parallel_for(j.d.N, image_grain(j.d.N), gemm_fwd_task, &j);
    return 1;
}

static int conv_fast_backward(struct fr_ctx *ctx, fr_t *out, float *gx, float *gw, float *gb,
                              int pool) {
    struct conv_job j = {.d = dims_f32(out), .gx = gx, .gw = gw, .gb = gb, .pool = pool};
    const struct fr_conv_geom *g = &j.d.g;
    j.x = out->src[0]->data, j.w = out->src[1]->data;
    if (pool)
        j.gout = out->grad->data, j.pout = out->data, j.arg = out->aux;
    else
        j.gy = out->grad->data;
    int nt = fr_threads_get();
    if (!pool && is_depthwise_fast(&j.d)) {
        j.per = (fr_dw_scratch_floats(g) + 15) & ~(size_t)15;
        if (!(j.scratch = fr_ctx_alloc(ctx, (size_t)nt * j.per * sizeof(float)))) return 0;
        if (gx) fr_parallel_for(j.d.N * g->C, 1, dw_bwd_input_task, &j);
        if (gw || gb) fr_parallel_for(g->C, 1, dw_bwd_weight_task, &j);
        return 1;
    }
    j.kk = j.d.Cg * g->KH * g->KW;
    j.pointwise = is_pointwise(g);
    /* the GEMM's N is the weight gradient's column count: put the larger of
     * kk and Og there (a first layer has kk = 9: N = 9 runs at a third of
     * the speed of N = 32) */
    j.wT = j.kk < j.d.Og;
    size_t colsz = j.pointwise ? 0 : (size_t)(g->C * g->KH * g->KW * g->OH * g->OW);
    size_t wsz = (size_t)(j.d.O * j.kk), bsz = (size_t)j.d.O;
    size_t dysz = pool ? (size_t)(j.d.O * g->OH * g->OW) : 0, poff = 2 * colsz + dysz;
    j.yoff = 2 * colsz;
    j.per = (poff + wsz + bsz + 15) & ~(size_t)15;
    if (!(j.scratch = fr_ctx_alloc(ctx, (size_t)nt * j.per * sizeof(float)))) return 0;
    for (int t = 0; t < nt; t++)
        memset(j.scratch + (size_t)t * j.per + poff, 0, (wsz + bsz) * sizeof(float));
    fr_parallel_for(j.d.N, image_grain(j.d.N), gemm_bwd_task, &j);
    /* partials summed in thread order: the same thread count gives the same bits */
    for (int t = 0; t < nt; t++) {
        const float *pw = j.scratch + (size_t)t * j.per + poff, *pb = pw + wsz;
        if (gw && j.wT)
            for (int64_t gr = 0; gr < j.d.G; gr++)
                for (int64_t o = 0; o < j.d.Og; o++)
                    for (int64_t k = 0; k < j.kk; k++)
                        gw[(gr * j.d.Og + o) * j.kk + k] += pw[gr * j.d.Og * j.kk + k * j.d.Og + o];
        else if (gw)
            for (size_t i = 0; i < wsz; i++)
                gw[i] += pw[i];
        if (gb)
            for (size_t i = 0; i < bsz; i++)
                gb[i] += pb[i];
    }
    return 1;
}
#endif

void FR_FN(fr_op_conv2d_forward)(struct fr_ctx *ctx, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && conv_fast_forward(ctx, out, 0)) return;
#endif
    FR_FN(conv_ref_forward)(out, out->data);
}

void FR_FN(fr_op_conv2d_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *gx = fr_op_grad(ctx, out->src[0]), *gw = fr_op_grad(ctx, out->src[1]);
    fr_t *gb = fr_op_grad(ctx, out->src[2]);
    real *px = gx ? gx->data : NULL, *pw = gw ? gw->data : NULL, *pb = gb ? gb->data : NULL;
    if (!px && !pw && !pb) return;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && conv_fast_backward(ctx, out, px, pw, pb, 0)) return;
#endif
    FR_FN(conv_ref_backward)(px, pw, pb, out, out->grad->data);
}

/* conv2d_relu_pool: ip[7] is the pool (1: ReLU only, 2: ReLU then 2x2
 * max pool); aux holds each window's winner (pool 2). The reference runs
 * the whole batch's convolution into a scratch tensor first. */
void FR_FN(fr_op_conv2d_relu_pool_forward)(struct fr_ctx *ctx, fr_t *out) {
    int pool = out->ip[7];
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && conv_fast_forward(ctx, out, pool)) return;
#endif
    struct FR_FN(conv_dims) d = FR_FN(dims)(out);
    int64_t per = d.O * d.g.OH * d.g.OW, pooled = d.O * (d.g.OH / pool) * (d.g.OW / pool);
    real *y = fr_ctx_alloc(ctx, (size_t)(d.N * per) * sizeof(real));
    if (!y) { /* out of arena: the output reads NaN rather than garbage */
        for (int64_t i = 0; i < d.N * pooled; i++)
            ((real *)out->data)[i] = NAN;
        return;
    }
    FR_FN(conv_ref_forward)(out, y);
    for (int64_t n = 0; n < d.N; n++)
        FR_FN(relu_pool_image)
    (y + n * per, d.O, d.g.OH, d.g.OW, pool, (real *)out->data + n * pooled,
     out->aux ? (uint8_t *)out->aux + n * pooled : NULL);
}

void FR_FN(fr_op_conv2d_relu_pool_backward)(struct fr_ctx *ctx, fr_t *out) {
    int pool = out->ip[7];
    fr_t *gx = fr_op_grad(ctx, out->src[0]), *gw = fr_op_grad(ctx, out->src[1]);
    fr_t *gb = fr_op_grad(ctx, out->src[2]);
    real *px = gx ? gx->data : NULL, *pw = gw ? gw->data : NULL, *pb = gb ? gb->data : NULL;
    if (!px && !pw && !pb) return;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && conv_fast_backward(ctx, out, px, pw, pb, pool)) return;
#endif
    struct FR_FN(conv_dims) d = FR_FN(dims)(out);
    int64_t per = d.O * d.g.OH * d.g.OW, pooled = d.O * (d.g.OH / pool) * (d.g.OW / pool);
    real *dy = fr_ctx_alloc(ctx, (size_t)(d.N * per) * sizeof(real));
    if (!dy) return;
    for (int64_t n = 0; n < d.N; n++)
        FR_FN(relu_pool_grad_image)
    ((const real *)out->grad->data + n * pooled, (const real *)out->data + n * pooled,
     out->aux ? (const uint8_t *)out->aux + n * pooled : NULL, d.O, d.g.OH, d.g.OW, pool,
     dy + n * per);
    FR_FN(conv_ref_backward)(px, pw, pb, out, dy);
}

#ifdef FR_PRIMARY
static int64_t conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t dl) {
    return (in + 2 * p - dl * (k - 1) - 1) / s + 1;
}

/* Checks a conv2d call and makes its inputs contiguous: *x, *w, *bias are
 * replaced by the contiguous tensors, ne gets the conv's output shape, ip
 * its 7 parameters. Nonzero (error set) on a bad call. */
static int conv_setup(struct fr_ctx *ctx, const char *who, fr_t **xp, fr_t **wp, fr_t **bp,
                      const struct fr_conv2d_opts *o, int64_t ne[4], int32_t ip[7]) {
    fr_t *x = *xp, *w = *wp, *bias = *bp;
    if (!x || !w) return -1;
    if (fr_op_check_float(who, x, w, bias)) return -1;
    struct fr_conv2d_opts z = {0};
    if (!o) o = &z;
    int sh = o->stride_h ? o->stride_h : 1, sw = o->stride_w ? o->stride_w : 1;
    int dh = o->dil_h ? o->dil_h : 1, dw = o->dil_w ? o->dil_w : 1;
    int G = o->groups ? o->groups : 1;
    char s1[64], s2[64];
    if (x->ndim < 3)
        return fr_error(FR_EINVAL, "%s: input %s must be 4-d (N, C, H, W)", who,
                        fr_shape_str(x, s1, sizeof s1));
    if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || o->pad_h < 0 || o->pad_w < 0 || G < 1)
        return fr_error(FR_EINVAL,
                        "%s: stride %dx%d, dilation %dx%d, padding %dx%d, groups %d: "
                        "strides, dilations and groups must be positive, padding non-negative",
                        who, sh, sw, dh, dw, o->pad_h, o->pad_w, G);
    int64_t C = x->ne[2], O = w->ne[3], KH = w->ne[1], KW = w->ne[0];
    if (C % G || O % G)
        return fr_error(FR_EINVAL,
                        "%s: groups %d must divide in channels %lld and out channels %lld", who, G,
                        (long long)C, (long long)O);
    if (w->ne[2] != C / G || KH < 1 || KW < 1 || O < 1)
        return fr_error(FR_EINVAL,
                        "%s: weight %s does not fit input %s with groups %d "
                        "(expected (Cout, %lld, KH, KW))",
                        who, fr_shape_str(w, s1, sizeof s1), fr_shape_str(x, s2, sizeof s2), G,
                        (long long)(C / G));
    if (bias && (fr_nelem(bias) != O || bias->ne[0] != O))
        return fr_error(FR_EINVAL, "%s: bias %s must have %lld elements", who,
                        fr_shape_str(bias, s1, sizeof s1), (long long)O);
    int64_t ekh = (int64_t)dh * (KH - 1) + 1, ekw = (int64_t)dw * (KW - 1) + 1;
    if (ekh > x->ne[1] + 2 * (int64_t)o->pad_h || ekw > x->ne[0] + 2 * (int64_t)o->pad_w)
        return fr_error(FR_EINVAL,
                        "%s: kernel %lldx%lld (dilated) is bigger than the padded input "
                        "%lldx%lld",
                        who, (long long)ekh, (long long)ekw, (long long)(x->ne[1] + 2 * o->pad_h),
                        (long long)(x->ne[0] + 2 * o->pad_w));
    fr_t *b = bias ? fr_contiguous(ctx, bias) : NULL;
    x = fr_contiguous(ctx, x);
    w = fr_contiguous(ctx, w);
    if (!x || !w || (bias && !b)) return -1;
    ne[0] = conv_out_size(x->ne[0], KW, sw, o->pad_w, dw);
    ne[1] = conv_out_size(x->ne[1], KH, sh, o->pad_h, dh);
    ne[2] = O, ne[3] = x->ne[3];
    int32_t p[7] = {sh, sw, o->pad_h, o->pad_w, dh, dw, G};
    memcpy(ip, p, sizeof p);
    *xp = x, *wp = w, *bp = b;
    return 0;
}

fr_t *fr_conv2d(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *bias, const struct fr_conv2d_opts *o) {
    int64_t ne[4];
    int32_t ip[7];
    if (conv_setup(ctx, "conv2d", &x, &w, &bias, o, ne, ip)) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_CONV2D, x->dtype, x->ndim, ne, x, w, bias, NULL);
    if (!out) return NULL;
    memcpy(out->ip, ip, sizeof ip);
    return fr_op_run(ctx, out);
}

fr_t *fr_conv2d_relu_pool(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *bias,
                          const struct fr_conv2d_opts *o, int pool) {
    if (pool != 1 && pool != 2) {
        fr_error(FR_EINVAL, "conv2d_relu_pool: pool %d must be 1 (ReLU only) or 2 (2x2 max pool)",
                 pool);
        return NULL;
    }
    if (o && o->groups > 1) { /* grouped and depthwise convs: the composition */
        fr_t *y = fr_relu(ctx, fr_conv2d(ctx, x, w, bias, o));
        return pool == 2 ? fr_maxpool2d(ctx, y, 2, 2, 2, 2, 0, 0) : y;
    }
    int64_t ne[4];
    int32_t ip[7];
    if (conv_setup(ctx, "conv2d_relu_pool", &x, &w, &bias, o, ne, ip)) return NULL;
    if (ne[0] < pool || ne[1] < pool) {
        fr_error(FR_EINVAL, "conv2d_relu_pool: conv output %lldx%lld is smaller than the pool",
                 (long long)ne[1], (long long)ne[0]);
        return NULL;
    }
    ne[0] /= pool, ne[1] /= pool;
    fr_t *out = fr_op_new(ctx, FR_OP_CONV2D_RELU_POOL, x->dtype, x->ndim, ne, x, w, bias, NULL);
    if (!out) return NULL;
    memcpy(out->ip, ip, sizeof ip);
    out->ip[7] = pool;
    if (pool == 2 && !(out->aux = fr_ctx_alloc(ctx, (size_t)fr_nelem(out)))) {
        fr_error(FR_ENOMEM, "conv2d_relu_pool: out of arena memory");
        return NULL;
    }
    return fr_op_run(ctx, out);
}
#endif
