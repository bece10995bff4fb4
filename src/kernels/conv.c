/* conv.c: im2col / col2im and the direct depthwise kernels of conv.h.
 *
 * Depthwise layout: a plane is copied into a zero-padded scratch image whose
 * rows are wide enough that every output row is a whole number of 16-float
 * tiles and every tap reads in bounds, so the inner loops carry no edge
 * tests. The correlation keeps a 4-row x 16-column output block in registers
 * (GCC vector types: one zmm per row on AVX-512, two ymm on AVX2) and runs
 * over the KH x KW taps with one broadcast weight per tap; the padded rows
 * and columns it computes beyond the real output are dropped. The weight
 * gradient keeps 8 taps x 16 columns of partial sums in registers and
 * reduces them at the end. The backward to the input is the same
 * correlation on the padded output gradient with the kernel flipped.
 */
#include "conv.h"

#include "frugal/kernels.h"
#include "vec.h"

#include <string.h>

/* 16 floats; the unaligned twin is for loads and stores at any float
 * address (GCC lets a float vector alias floats). Macros, not functions,
 * so no vector crosses a call boundary outside the cloned kernels. */
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
#define ld16(p) (*(const v16u *)(p))
#define st16(p, v) (*(v16u *)(p) = (v))

/* "Same-width" stride-1 convolutions (OW == W, sw == sh == 1: the 3x3
 * pad-1 layers of small CNNs) map consecutive output rows to consecutive
 * input rows, so one column row (c, kh, kw) is a single contiguous run of
 * the input plane shifted by the tap's column offset, with the columns that
 * fall off the left / right edge zeroed afterwards. One long copy per tap
 * instead of one 14-float copy per output row. Same values as the general
 * loop. */
static int same_width(const struct fr_conv_geom *g) {
    return g->sw == 1 && g->sh == 1 && g->OW == g->W;
}

/* Valid output rows [*oh0, *oh1) of kernel row kh (input row inside [0, H)). */
static void valid_rows(const struct fr_conv_geom *g, int64_t kh, int64_t *oh0, int64_t *oh1) {
    int64_t d = kh * g->dh - g->ph; /* ih = oh + d */
    *oh0 = d < 0 ? -d : 0;
    *oh1 = g->H - d < g->OH ? g->H - d : g->OH;
    if (*oh0 > g->OH) *oh0 = g->OH;
    if (*oh1 < *oh0) *oh1 = *oh0;
}

static void im2col_same_width(const struct fr_conv_geom *g, const float *x, float *col) {
    const int64_t OHW = g->OH * g->OW, W = g->W;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < g->KH; kh++) {
            int64_t oh0, oh1;
            valid_rows(g, kh, &oh0, &oh1);
            const float *xc = x + c * g->H * W + (oh0 + kh * g->dh - g->ph) * W;
            for (int64_t kw = 0; kw < g->KW; kw++) {
                float *row = col + ((c * g->KH + kh) * g->KW + kw) * OHW;
                int64_t off = kw * g->dw - g->pw, n = (oh1 - oh0) * W;
                memset(row, 0, (size_t)(oh0 * W) * sizeof(float));
                memset(row + oh1 * W, 0, (size_t)((g->OH - oh1) * W) * sizeof(float));
                float *dst = row + oh0 * W;
                if (off <= -W || off >= W) {
                    memset(dst, 0, (size_t)n * sizeof(float));
                    continue;
                }
                /* dst[i] = xc[i + off] for i in [i0, i1): in the plane */
                int64_t i0 = off < 0 ? -off : 0, i1 = off > 0 ? n - off : n;
                if (i1 > i0) memcpy(dst + i0, xc + i0 + off, (size_t)(i1 - i0) * sizeof(float));
                if (off < 0)
                    for (int64_t r = 0; r < n; r += W)
                        for (int64_t k = 0; k < -off; k++)
                            dst[r + k] = 0;
                else
                    for (int64_t r = 0; r < n; r += W)
                        for (int64_t k = W - off; k < W; k++)
                            dst[r + k] = 0;
            }
        }
}

/* The adjoint: the edge columns of each column row are zeroed in col (the
 * caller's scratch) first, so the contiguous add sends +0 to the cells they
 * overlap (one difference from the general loop: a -0 gradient there may
 * become +0). */
static void col2im_same_width(const struct fr_conv_geom *g, float *col, float *dx) {
    const int64_t OHW = g->OH * g->OW, W = g->W;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < g->KH; kh++) {
            int64_t oh0, oh1;
            valid_rows(g, kh, &oh0, &oh1);
            float *xc = dx + c * g->H * W + (oh0 + kh * g->dh - g->ph) * W;
            for (int64_t kw = 0; kw < g->KW; kw++) {
                int64_t off = kw * g->dw - g->pw, n = (oh1 - oh0) * W;
                if (off <= -W || off >= W) continue;
                float *src = col + ((c * g->KH + kh) * g->KW + kw) * OHW + oh0 * W;
                if (off < 0)
                    for (int64_t r = 0; r < n; r += W)
                        for (int64_t k = 0; k < -off; k++)
                            src[r + k] = 0;
                else
                    for (int64_t r = 0; r < n; r += W)
                        for (int64_t k = W - off; k < W; k++)
                            src[r + k] = 0;
                int64_t i0 = off < 0 ? -off : 0, i1 = off > 0 ? n - off : n;
                fr_vec_acc(i1 - i0, src + i0, xc + i0 + off);
            }
        }
}

/* Row segments are short (an output row), so the copies are plain loops the
 * compiler vectorises inline rather than memcpy / memset calls. */
FR_CLONES static void im2col_general(const struct fr_conv_geom *g, const float *x, float *col) {
    const int64_t OHW = g->OH * g->OW, OW = g->OW, sw = g->sw;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < g->KH; kh++)
            for (int64_t kw = 0; kw < g->KW; kw++) {
                float *row = col + ((c * g->KH + kh) * g->KW + kw) * OHW;
                const float *xc = x + c * g->H * g->W;
                /* output columns [lo, hi) read input columns inside [0, W) */
                int64_t off = kw * g->dw - g->pw;
                int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t hi = g->W - off <= 0 ? 0 : (g->W - off + sw - 1) / sw;
                if (hi > OW) hi = OW;
                if (lo > hi) lo = hi;
                for (int64_t oh = 0; oh < g->OH; oh++) {
                    float *r = row + oh * OW;
                    int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                    if (ih < 0 || ih >= g->H) {
                        for (int64_t ow = 0; ow < OW; ow++)
                            r[ow] = 0;
                        continue;
                    }
                    const float *xr = xc + ih * g->W + off;
                    for (int64_t ow = 0; ow < lo; ow++)
                        r[ow] = 0;
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            r[ow] = xr[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            r[ow] = xr[ow * sw];
                    for (int64_t ow = hi; ow < OW; ow++)
                        r[ow] = 0;
                }
            }
}

void fr_im2col(const struct fr_conv_geom *g, const float *x, float *col) {
    if (same_width(g))
        im2col_same_width(g, x, col);
    else
        im2col_general(g, x, col);
}

FR_CLONES static void col2im_general(const struct fr_conv_geom *g, const float *col, float *dx) {
    const int64_t OHW = g->OH * g->OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < g->KH; kh++)
            for (int64_t kw = 0; kw < g->KW; kw++) {
                const float *row = col + ((c * g->KH + kh) * g->KW + kw) * OHW;
                float *xc = dx + c * g->H * g->W;
                int64_t off = kw * g->dw - g->pw;
                int64_t lo = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
                int64_t hi = g->W - off <= 0 ? 0 : (g->W - off + g->sw - 1) / g->sw;
                if (hi > g->OW) hi = g->OW;
                if (lo > hi) lo = hi;
                for (int64_t oh = 0; oh < g->OH; oh++) {
                    int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    const float *r = row + oh * g->OW;
                    float *xr = xc + ih * g->W + off;
                    if (g->sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            xr[ow] += r[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            xr[ow * g->sw] += r[ow];
                }
            }
}

void fr_col2im(const struct fr_conv_geom *g, float *col, float *dx) {
    if (same_width(g))
        col2im_same_width(g, col, dx);
    else
        col2im_general(g, col, dx);
}

/* ---- depthwise ---- */

static inline int64_t round_up(int64_t a, int64_t m) {
    return (a + m - 1) / m * m;
}

/* Scratch geometry: tw columns and rh rows cover every output of the three
 * kernels; ldx is the padded image's row length. */
struct dw_dims {
    int64_t tw, rh, ldx, xrows;
};

static struct dw_dims dw_dims(const struct fr_conv_geom *g) {
    struct dw_dims d;
    d.tw = round_up(g->OW > g->W ? g->OW : g->W, 16);
    d.rh = round_up(g->OH > g->H ? g->OH : g->H, 4);
    d.ldx = round_up(d.tw + g->KW - 1 + 8, 16);
    d.xrows = d.rh + g->KH - 1;
    return d;
}

size_t fr_dw_scratch_floats(const struct fr_conv_geom *g) {
    struct dw_dims d = dw_dims(g);
    return (size_t)(d.xrows * d.ldx + d.rh * d.tw + g->KH * g->KW);
}

/* Zeroes the padded image and copies the rows x cols plane src into it at
 * (r0, c0). */
static void pad_plane(float *xp, const struct dw_dims *d, const float *src, int64_t rows,
                      int64_t cols, int64_t r0, int64_t c0) {
    memset(xp, 0, (size_t)(d->xrows * d->ldx) * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        memcpy(xp + (r + r0) * d->ldx + c0, src + r * cols, (size_t)cols * sizeof(float));
}

/* One output block: 4 rows x T tiles of 16 columns (T = 1 or 2) at (r, c).
 * Input row i (relative to r) feeds output row q through kernel row i - q;
 * where all 4 rows take input row i, each loaded input vector serves 4 FMAs
 * (plus one broadcast weight each), else rows are done one by one. */
#define DW_ROW(A0, A1, Q, T)                                                                       \
    if (i >= Q && i - Q < KH) {                                                                    \
        const float *wq = w + (i - Q) * KW;                                                        \
        for (int64_t kw = 0; kw < KW; kw++) {                                                      \
            A0 += wq[kw] * ld16(xr + kw);                                                          \
            if (T == 2) A1 += wq[kw] * ld16(xr + kw + 16);                                         \
        }                                                                                          \
    }

#define DW_BLOCK(T)                                                                                \
    do {                                                                                           \
        v16 a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0}, a30 = {0},           \
            a31 = {0};                                                                             \
        for (int64_t i = 0; i < KH + 3; i++) {                                                     \
            const float *xr = xp + (r + i) * ldx + c;                                              \
            if (i >= 3 && i < KH) {                                                                \
                const float *w0 = w + i * KW, *w1 = w0 - KW, *w2 = w1 - KW, *w3 = w2 - KW;         \
                for (int64_t kw = 0; kw < KW; kw++) {                                              \
                    v16 x0 = ld16(xr + kw);                                                        \
                    a00 += w0[kw] * x0, a10 += w1[kw] * x0;                                        \
                    a20 += w2[kw] * x0, a30 += w3[kw] * x0;                                        \
                    if (T == 2) {                                                                  \
                        v16 x1 = ld16(xr + kw + 16);                                               \
                        a01 += w0[kw] * x1, a11 += w1[kw] * x1;                                    \
                        a21 += w2[kw] * x1, a31 += w3[kw] * x1;                                    \
                    }                                                                              \
                }                                                                                  \
            } else {                                                                               \
                DW_ROW(a00, a01, 0, T)                                                             \
                DW_ROW(a10, a11, 1, T)                                                             \
                DW_ROW(a20, a21, 2, T)                                                             \
                DW_ROW(a30, a31, 3, T)                                                             \
            }                                                                                      \
        }                                                                                          \
        float *y0 = yp + r * ldy + c;                                                              \
        st16(y0, a00), st16(y0 + ldy, a10), st16(y0 + 2 * ldy, a20), st16(y0 + 3 * ldy, a30);      \
        if (T == 2)                                                                                \
            st16(y0 + 16, a01), st16(y0 + ldy + 16, a11), st16(y0 + 2 * ldy + 16, a21),            \
                st16(y0 + 3 * ldy + 16, a31);                                                      \
    } while (0)

/* yp[r][c] = sum_{kh,kw} w[kh][kw] * xp[r+kh][c+kw] for r < rows (a multiple
 * of 4) and c < cols (a multiple of 16). pair: use 2-tile blocks (8
 * accumulators; only where the vector registers hold them, i.e. AVX-512). */
FR_CLONES static void dw_corr(const float *xp, int64_t ldx, const float *w, int64_t KH, int64_t KW,
                              float *yp, int64_t ldy, int64_t rows, int64_t cols, int pair) {
    for (int64_t r = 0; r < rows; r += 4) {
        int64_t c = 0;
        if (pair)
            for (; c + 32 <= cols; c += 32)
                DW_BLOCK(2);
        for (; c < cols; c += 16)
            DW_BLOCK(1);
    }
}

static int dw_pair(void) {
    return fr_cpu_isa() >= FR_ISA_AVX512;
}

void fr_dw_forward(const struct fr_conv_geom *g, const float *x, const float *w, float bias,
                   float *y, float *scratch) {
    struct dw_dims d = dw_dims(g);
    float *xp = scratch, *yp = scratch + d.xrows * d.ldx;
    pad_plane(xp, &d, x, g->H, g->W, g->ph, g->pw);
    dw_corr(xp, d.ldx, w, g->KH, g->KW, yp, d.tw, round_up(g->OH, 4), round_up(g->OW, 16),
            dw_pair());
    for (int64_t r = 0; r < g->OH; r++)
        fr_vec_add_scalar(g->OW, bias, yp + r * d.tw, y + r * g->OW);
}

void fr_dw_backward_input(const struct fr_conv_geom *g, const float *dy, const float *w, float *dx,
                          float *scratch) {
    struct dw_dims d = dw_dims(g);
    float *xp = scratch, *yp = scratch + d.xrows * d.ldx;
    float *wf = yp + d.rh * d.tw; /* the kernel flipped in both axes */
    for (int64_t k = 0, n = g->KH * g->KW; k < n; k++)
        wf[k] = w[n - 1 - k];
    pad_plane(xp, &d, dy, g->OH, g->OW, g->KH - 1 - g->ph, g->KW - 1 - g->pw);
    dw_corr(xp, d.ldx, wf, g->KH, g->KW, yp, d.tw, round_up(g->H, 4), round_up(g->W, 16),
            dw_pair());
    for (int64_t r = 0; r < g->H; r++)
        fr_vec_acc(g->W, yp + r * d.tw, dx + r * g->W);
}

/* dw[kh][kw] += sum_{r<OH, c<cols} dyp[r][c] * xp[r+kh][c+kw]; dyp is zero
 * beyond the real output columns, so the padded columns add nothing. */
FR_CLONES static void dw_wgrad(const float *xp, int64_t ldx, const float *dyp, int64_t ldy,
                               int64_t OH, int64_t cols, int64_t KH, int64_t KW, float *dw) {
    for (int64_t kh = 0; kh < KH; kh++)
        for (int64_t k0 = 0; k0 < KW; k0 += 8) {
            v16 a[8] = {{0}};
            for (int64_t r = 0; r < OH; r++) {
                const float *xr = xp + (r + kh) * ldx + k0;
                for (int64_t c = 0; c < cols; c += 16) {
                    v16 dv = ld16(dyp + r * ldy + c);
                    for (int k = 0; k < 8; k++)
                        a[k] += dv * ld16(xr + c + k);
                }
            }
            for (int k = 0; k < 8 && k0 + k < KW; k++) {
                float s = 0;
                for (int j = 0; j < 16; j++)
                    s += a[k][j];
                dw[kh * KW + k0 + k] += s;
            }
        }
}

void fr_dw_backward_weight(const struct fr_conv_geom *g, const float *x, const float *dy, float *dw,
                           float *scratch) {
    struct dw_dims d = dw_dims(g);
    float *xp = scratch, *dyp = scratch + d.xrows * d.ldx;
    int64_t cols = round_up(g->OW, 16);
    pad_plane(xp, &d, x, g->H, g->W, g->ph, g->pw);
    memset(dyp, 0, (size_t)(g->OH * d.tw) * sizeof(float));
    for (int64_t r = 0; r < g->OH; r++)
        memcpy(dyp + r * d.tw, dy + r * g->OW, (size_t)g->OW * sizeof(float));
    dw_wgrad(xp, d.ldx, dyp, d.tw, g->OH, cols, g->KH, g->KW, dw);
}
