/* op_matmul.c: matmul (batched, broadcast batch dims) and linear.
 *
 *   matmul: a {K, M, a2, a3} @ b {N, K, b2, b3} -> {N, M, max(a2,b2), ..}
 *   linear: x {in, rows..} @ w {in, out}^T + bias {out} -> {out, rows..}
 *
 * Reference path (f64, and f32 in reference mode): plain loops that read
 * every operand through its strides and accumulate in double; it knows
 * nothing about layouts, so it checks the fast path's layout logic too.
 * Fast path (f32): each 2-D slice is handed to fr_gemm as it lies in memory;
 * a transposed view (nb[1] == 4) becomes a transpose flag rather than a
 * copy, and only slices that are neither row- nor column-contiguous are
 * copied (arena). Backward: dA += dC B^T, dB += A^T dC with beta = 1 into
 * the (contiguous) grads, batch by batch, so a broadcast batch dim sums
 * its gradient; bias grad = column sums of dY.
 */
#include "../kernels/vec.h"
#include "frugal/kernels.h"
#include "op.h"

/* index into a dim that may be broadcast (size 1) */
static inline int64_t bidx(const fr_t *t, int d, int64_t i) {
    return t->ne[d] == 1 ? 0 : i;
}

/* element (r, c) of the dims-0/1 slice at batch (i2, i3): c runs along dim 0 */
#define MAT(t, r, c, i2, i3) (*(const real *)FR_AT((t)->data, (t)->nb, c, r, i2, i3))

/* ---- matmul, reference ---- */

static void FR_FN(matmul_ref)(fr_t *out) {
    const fr_t *a = out->src[0], *b = out->src[1];
    int64_t M = a->ne[1], K = a->ne[0], N = b->ne[0];
    real *o = out->data;
    for (int64_t i3 = 0; i3 < out->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < out->ne[2]; i2++) {
            int64_t a2 = bidx(a, 2, i2), a3 = bidx(a, 3, i3), b2 = bidx(b, 2, i2),
                    b3 = bidx(b, 3, i3);
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < N; n++) {
                    double s = 0;
                    for (int64_t k = 0; k < K; k++)
                        s += (double)MAT(a, m, k, a2, a3) * (double)MAT(b, k, n, b2, b3);
                    *o++ = (real)s;
                }
        }
}

static void FR_FN(matmul_ref_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *a = out->src[0], *b = out->src[1];
    fr_t *ga = fr_op_grad(ctx, a), *gb = fr_op_grad(ctx, b);
    int64_t M = a->ne[1], K = a->ne[0], N = b->ne[0];
    const real *g = out->grad->data;
    for (int64_t i3 = 0; i3 < out->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < out->ne[2]; i2++, g += M * N) {
            int64_t a2 = bidx(a, 2, i2), a3 = bidx(a, 3, i3), b2 = bidx(b, 2, i2),
                    b3 = bidx(b, 3, i3);
            if (ga) { /* dA[m, k] += sum_n dC[m, n] B[k, n] */
                real *d = (real *)ga->data + (a3 * a->ne[2] + a2) * M * K;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t k = 0; k < K; k++) {
                        double s = 0;
                        for (int64_t n = 0; n < N; n++)
                            s += (double)g[m * N + n] * (double)MAT(b, k, n, b2, b3);
                        d[m * K + k] += (real)s;
                    }
            }
            if (gb) { /* dB[k, n] += sum_m A[m, k] dC[m, n] */
                real *d = (real *)gb->data + (b3 * b->ne[2] + b2) * K * N;
                for (int64_t k = 0; k < K; k++)
                    for (int64_t n = 0; n < N; n++) {
                        double s = 0;
                        for (int64_t m = 0; m < M; m++)
                            s += (double)MAT(a, m, k, a2, a3) * (double)g[m * N + n];
                        d[k * N + n] += (real)s;
                    }
            }
        }
}

/* ---- linear, reference ---- */

/* row r of x's collapsed dims 1..3 -> (i1, i2, i3) */
#define ROW_SPLIT(t, r, i1, i2, i3)                                                                \
    int64_t i1 = (r) % (t)->ne[1], i2 = (r) / (t)->ne[1] % (t)->ne[2],                             \
            i3 = (r) / ((t)->ne[1] * (t)->ne[2])

static void FR_FN(linear_ref)(fr_t *out) {
    const fr_t *x = out->src[0], *w = out->src[1], *bias = out->src[2];
    int64_t in = x->ne[0], no = w->ne[1], R = fr_nelem(x) / in;
    real *o = out->data;
    for (int64_t r = 0; r < R; r++) {
        ROW_SPLIT(x, r, i1, i2, i3);
        for (int64_t j = 0; j < no; j++) {
            double s = bias ? *(const real *)FR_AT(bias->data, bias->nb, j, 0, 0, 0) : 0;
            for (int64_t i = 0; i < in; i++)
                s += (double)*(const real *)FR_AT(x->data, x->nb, i, i1, i2, i3) *
                     (double)MAT(w, j, i, 0, 0);
            o[r * no + j] = (real)s;
        }
    }
}

static void FR_FN(linear_ref_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *x = out->src[0], *w = out->src[1], *bias = out->src[2];
    fr_t *gx = fr_op_grad(ctx, x), *gw = fr_op_grad(ctx, w);
    fr_t *gbias = bias ? fr_op_grad(ctx, bias) : NULL;
    int64_t in = x->ne[0], no = w->ne[1], R = fr_nelem(x) / in;
    const real *g = out->grad->data;
    if (gx) /* dx[r, i] += sum_j g[r, j] w[j, i] */
        for (int64_t r = 0; r < R; r++)
            for (int64_t i = 0; i < in; i++) {
                double s = 0;
                for (int64_t j = 0; j < no; j++)
                    s += (double)g[r * no + j] * MAT(w, j, i, 0, 0);
                ((real *)gx->data)[r * in + i] += (real)s;
            }
    if (gw) /* dw[j, i] += sum_r g[r, j] x[r, i] */
        for (int64_t j = 0; j < no; j++)
            for (int64_t i = 0; i < in; i++) {
                double s = 0;
                for (int64_t r = 0; r < R; r++) {
                    ROW_SPLIT(x, r, i1, i2, i3);
                    s +=
                        (double)g[r * no + j] * *(const real *)FR_AT(x->data, x->nb, i, i1, i2, i3);
                }
                ((real *)gw->data)[j * in + i] += (real)s;
            }
    if (gbias)
        for (int64_t j = 0; j < no; j++) {
            double s = 0;
            for (int64_t r = 0; r < R; r++)
                s += g[r * no + j];
            ((real *)gbias->data)[j] += (real)s;
        }
}

#ifdef FR_PRIMARY
/* ---- f32 fast path through fr_gemm ---- */

/* A matrix operand as fr_gemm takes it: element (r, c) is p[r*ld + c]
 * (trans 0) or p[c*ld + r] (trans 1). */
struct mat {
    const float *p;
    int trans;
    int64_t ld;
};

/* rows x cols with byte strides s_r (rows) and s_c (cols) as a gemm
 * operand; 0 when neither stride is one element. */
static int mat_of(int64_t rows, int64_t cols, size_t s_r, size_t s_c, struct mat *m) {
    const size_t es = sizeof(float);
    if ((s_c == es || cols == 1) && (rows == 1 || (s_r % es == 0 && (int64_t)(s_r / es) >= cols))) {
        m->trans = 0;
        m->ld = rows == 1 ? cols : (int64_t)(s_r / es);
        return 1;
    }
    if ((s_r == es || rows == 1) && (cols == 1 || (s_c % es == 0 && (int64_t)(s_c / es) >= rows))) {
        m->trans = 1;
        m->ld = cols == 1 ? rows : (int64_t)(s_c / es);
        return 1;
    }
    return 0;
}

/* Contiguous copy of t's data into the arena (a header copy with fresh
 * strides in *dst). 0 on allocation failure. */
static int contig_copy(struct fr_ctx *ctx, const fr_t *t, fr_t *dst) {
    float *p = fr_ctx_alloc(ctx, (size_t)fr_nelem(t) * sizeof(float));
    if (!p) return 0;
    *dst = *t;
    fr_tensor_set_shape(dst, FR_F32, t->ndim, t->ne);
    dst->data = p;
    for (int64_t i3 = 0; i3 < t->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < t->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < t->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < t->ne[0]; i0++)
                    *p++ = *(const float *)FR_AT(t->data, t->nb, i0, i1, i2, i3);
    return 1;
}

/* The dims-0/1 slice layout of t (a copy in *tmp when needed); 0 on OOM. */
static const fr_t *slice_operand(struct fr_ctx *ctx, const fr_t *t, fr_t *tmp, struct mat *m) {
    if (mat_of(t->ne[1], t->ne[0], t->nb[1], t->nb[0], m)) return t;
    if (!contig_copy(ctx, t, tmp)) return NULL;
    mat_of(tmp->ne[1], tmp->ne[0], tmp->nb[1], tmp->nb[0], m);
    return tmp;
}

static const float *slice_ptr(const fr_t *t, const fr_t *shape, int64_t i2, int64_t i3) {
    return (const float *)FR_AT(t->data, t->nb, 0, 0, bidx(shape, 2, i2), bidx(shape, 3, i3));
}

static int matmul_fast(struct fr_ctx *ctx, fr_t *out, int backward) {
    fr_t *a = out->src[0], *b = out->src[1], ta, tb;
    struct mat ma = {0}, mb = {0};
    const fr_t *ua = slice_operand(ctx, a, &ta, &ma),
               *ub = ua ? slice_operand(ctx, b, &tb, &mb) : NULL;
    if (!ub) return 0;
    fr_t *ga = backward ? fr_op_grad(ctx, a) : NULL, *gb = backward ? fr_op_grad(ctx, b) : NULL;
    int64_t M = a->ne[1], K = a->ne[0], N = b->ne[0];
    float *o = backward ? out->grad->data : out->data;
    for (int64_t i3 = 0; i3 < out->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < out->ne[2]; i2++, o += M * N) {
            const float *pa = slice_ptr(ua, a, i2, i3), *pb = slice_ptr(ub, b, i2, i3);
            if (!backward) {
                fr_gemm(ma.trans, mb.trans, M, N, K, 1, pa, ma.ld, pb, mb.ld, 0, o, N);
                continue;
            }
            if (ga)
                fr_gemm(0, !mb.trans, M, K, N, 1, o, N, pb, mb.ld, 1,
                        (float *)ga->data + (bidx(a, 3, i3) * a->ne[2] + bidx(a, 2, i2)) * M * K,
                        K);
            if (gb)
                fr_gemm(!ma.trans, 0, K, N, M, 1, pa, ma.ld, o, N, 1,
                        (float *)gb->data + (bidx(b, 3, i3) * b->ne[2] + bidx(b, 2, i2)) * K * N,
                        N);
        }
    return 1;
}

/* x's dims 1..3 collapsed into rows: each outer dim's stride continues the
 * one below it (or the dim has size 1). */
static int rows_collapse(const fr_t *x, size_t *s_r) {
    size_t s = x->nb[1];
    int64_t span = x->ne[1];
    for (int d = 2; d < FR_MAX_DIMS; d++) {
        if (x->ne[d] == 1) continue;
        if (span > 1 && x->nb[d] != s * (size_t)span) return 0;
        if (span == 1) s = x->nb[d];
        span *= x->ne[d];
    }
    *s_r = s;
    return 1;
}

static int linear_fast(struct fr_ctx *ctx, fr_t *out, int backward) {
    fr_t *x = out->src[0], *w = out->src[1], *bias = out->src[2], tx;
    int64_t in = x->ne[0], no = w->ne[1], R = fr_nelem(x) / in;
    struct mat mx = {0}, mw = {0};
    const fr_t *ux = x;
    size_t s_r;
    if (!rows_collapse(x, &s_r) || !mat_of(R, in, s_r, x->nb[0], &mx)) {
        if (!contig_copy(ctx, x, &tx)) return 0;
        ux = &tx;
        mat_of(R, in, in * sizeof(float), sizeof(float), &mx);
    }
    if (!mat_of(no, in, w->nb[1], w->nb[0], &mw)) return 0; /* w: reference loops */
    const float *px = ux->data, *pw = w->data;
    if (!backward) {
        float *y = out->data;
        float beta = 0;
        if (bias) {
            for (int64_t j = 0; j < no; j++)
                y[j] = *(const float *)FR_AT(bias->data, bias->nb, j, 0, 0, 0);
            for (int64_t r = 1; r < R; r++)
                memcpy(y + r * no, y, (size_t)no * sizeof(float));
            beta = 1;
        }
        fr_gemm(mx.trans, !mw.trans, R, no, in, 1, px, mx.ld, pw, mw.ld, beta, y, no);
        return 1;
    }
    int fresh;
    fr_t *gx = fr_op_grad_fresh(ctx, x, &fresh), *gw = fr_op_grad(ctx, w);
    fr_t *gbias = bias ? fr_op_grad(ctx, bias) : NULL;
    const float *g = out->grad->data;
    /* a fresh dx is written (beta 0), not zeroed and added to */
    if (gx) fr_gemm(0, mw.trans, R, in, no, 1, g, no, pw, mw.ld, fresh ? 0 : 1, gx->data, in);
    if (gw) fr_gemm(1, mx.trans, no, in, R, 1, g, no, px, mx.ld, 1, gw->data, in);
    if (gbias)
        for (int64_t r = 0; r < R; r++)
            fr_vec_acc(no, g + r * no, gbias->data);
    return 1;
}
#endif

void FR_FN(fr_op_matmul_forward)(struct fr_ctx *ctx, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && matmul_fast(ctx, out, 0)) return;
#endif
    (void)ctx;
    FR_FN(matmul_ref)(out);
}

void FR_FN(fr_op_matmul_backward)(struct fr_ctx *ctx, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && matmul_fast(ctx, out, 1)) return;
#endif
    FR_FN(matmul_ref_backward)(ctx, out);
}

void FR_FN(fr_op_linear_forward)(struct fr_ctx *ctx, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && linear_fast(ctx, out, 0)) return;
#endif
    (void)ctx;
    FR_FN(linear_ref)(out);
}

void FR_FN(fr_op_linear_backward)(struct fr_ctx *ctx, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && linear_fast(ctx, out, 1)) return;
#endif
    FR_FN(linear_ref_backward)(ctx, out);
}

#ifdef FR_PRIMARY
fr_t *fr_matmul(struct fr_ctx *ctx, fr_t *a, fr_t *b) {
    if (!a || !b) return NULL;
    if (fr_op_check_float("matmul", a, b, NULL)) return NULL;
    char s1[64], s2[64];
    if (a->ne[0] != b->ne[1]) {
        fr_error(FR_EINVAL, "matmul: inner sizes differ: a %s has K = %lld, b %s has K = %lld",
                 fr_shape_str(a, s1, sizeof s1), (long long)a->ne[0],
                 fr_shape_str(b, s2, sizeof s2), (long long)b->ne[1]);
        return NULL;
    }
    int64_t ne[4] = {b->ne[0], a->ne[1], 1, 1};
    for (int d = 2; d < 4; d++) {
        if (a->ne[d] != b->ne[d] && a->ne[d] != 1 && b->ne[d] != 1) {
            fr_error(FR_EINVAL, "matmul: batch dims of %s and %s do not broadcast",
                     fr_shape_str(a, s1, sizeof s1), fr_shape_str(b, s2, sizeof s2));
            return NULL;
        }
        ne[d] = a->ne[d] == 1 ? b->ne[d] : a->ne[d];
    }
    int ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    if (ndim < 2) ndim = 2;
    return fr_op_run(ctx, fr_op_new(ctx, FR_OP_MATMUL, a->dtype, ndim, ne, a, b, NULL, NULL));
}

fr_t *fr_linear(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *bias) {
    if (!x || !w) return NULL;
    if (fr_op_check_float("linear", x, w, bias)) return NULL;
    char s1[64], s2[64];
    if (w->ne[2] != 1 || w->ne[3] != 1) {
        fr_error(FR_EINVAL, "linear: weight %s is not 2-D (out, in)",
                 fr_shape_str(w, s1, sizeof s1));
        return NULL;
    }
    if (w->ne[0] != x->ne[0]) {
        fr_error(FR_EINVAL, "linear: input %s has %lld features, weight %s expects %lld",
                 fr_shape_str(x, s1, sizeof s1), (long long)x->ne[0],
                 fr_shape_str(w, s2, sizeof s2), (long long)w->ne[0]);
        return NULL;
    }
    if (bias && (fr_nelem(bias) != w->ne[1] || bias->ne[0] != w->ne[1])) {
        fr_error(FR_EINVAL, "linear: bias %s does not match %lld outputs",
                 fr_shape_str(bias, s1, sizeof s1), (long long)w->ne[1]);
        return NULL;
    }
    int64_t ne[4] = {w->ne[1], x->ne[1], x->ne[2], x->ne[3]};
    return fr_op_run(ctx, fr_op_new(ctx, FR_OP_LINEAR, x->dtype, x->ndim, ne, x, w, bias, NULL));
}
#endif
