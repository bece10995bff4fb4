/* op_norm.c: layernorm and rmsnorm over dim 0 (each row of D = ne[0]).
 *
 *   layernorm: y = (x - mean) * rstd * w + b,  rstd = 1/sqrt(var + eps)
 *   rmsnorm:   y = x * rstd * w,               rstd = 1/sqrt(mean(x^2) + eps)
 * (biased variance, as PyTorch). w and b are {D} or NULL. The forward saves
 * each row's mean (0 for rmsnorm) and rstd in aux (double, 2 per row); the
 * backward uses them:
 *   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  gw = g * w
 * (no mean(gw) term for rmsnorm), dw += sum_rows g * xhat, db += sum_rows g.
 * Reference: x, w, b read through strides, statistics in double. Fast path
 * (f32: x rows dense, w and b contiguous): rows over the thread pool for the
 * forward and dx; dw and db split by columns so no two threads share a
 * gradient element and the result does not depend on the thread count.
 */
#include "../kernels/vec_math.h"
#include "op.h"

static const real *FR_FN(row_of)(const fr_t *x, int64_t r) {
    int64_t i1 = r % x->ne[1], t = r / x->ne[1];
    return FR_AT(x->data, x->nb, 0, i1, t % x->ne[2], t / x->ne[2]);
}

#define ELEM(t, i) (*(const real *)((const char *)(t)->data + (size_t)(i) * (t)->nb[0]))
#define XAT(xr, x, i) (*(const real *)((const char *)(xr) + (size_t)(i) * (x)->nb[0]))

static void FR_FN(norm_ref)(fr_t *out, int rms) {
    const fr_t *x = out->src[0], *w = out->src[1], *b = out->src[2];
    double *st = out->aux, eps = out->fp[0];
    int64_t n = x->ne[0], rows = fr_nelem(x) / n;
    for (int64_t r = 0; r < rows; r++) {
        const real *xr = FR_FN(row_of)(x, r);
        real *y = (real *)out->data + r * n;
        double mean = 0, var = 0;
        if (!rms) {
            for (int64_t i = 0; i < n; i++)
                mean += XAT(xr, x, i);
            mean /= (double)n;
        }
        for (int64_t i = 0; i < n; i++) {
            double d = XAT(xr, x, i) - mean;
            var += d * d;
        }
        double rstd = 1.0 / sqrt(var / (double)n + eps);
        st[2 * r] = mean, st[2 * r + 1] = rstd;
        for (int64_t i = 0; i < n; i++) {
            double v = (XAT(xr, x, i) - mean) * rstd;
            if (w) v *= ELEM(w, i);
            if (b) v += ELEM(b, i);
            y[i] = (real)v;
        }
    }
}

static void FR_FN(norm_backward_ref)(struct fr_ctx *ctx, fr_t *out, int rms) {
    const fr_t *x = out->src[0], *w = out->src[1];
    fr_t *gx = fr_op_grad(ctx, out->src[0]), *gw = fr_op_grad(ctx, out->src[1]),
         *gb = fr_op_grad(ctx, out->src[2]);
    const double *st = out->aux;
    int64_t n = x->ne[0], rows = fr_nelem(x) / n;
    for (int64_t r = 0; r < rows; r++) {
        const real *xr = FR_FN(row_of)(x, r);
        const real *g = (const real *)out->grad->data + r * n;
        double mean = st[2 * r], rstd = st[2 * r + 1], m1 = 0, m2 = 0;
        for (int64_t i = 0; i < n; i++) {
            double gwi = w ? g[i] * ELEM(w, i) : g[i];
            m1 += gwi;
            m2 += gwi * (XAT(xr, x, i) - mean) * rstd;
        }
        m1 = rms ? 0.0 : m1 / (double)n;
        m2 /= (double)n;
        for (int64_t i = 0; i < n; i++) {
            double xh = (XAT(xr, x, i) - mean) * rstd;
            double gwi = w ? g[i] * ELEM(w, i) : g[i];
            if (gx) ((real *)gx->data)[r * n + i] += (real)(rstd * (gwi - m1 - xh * m2));
            if (gw) ((real *)gw->data)[i] += (real)(g[i] * xh);
            if (gb) ((real *)gb->data)[i] += g[i];
        }
    }
}

#ifdef FR_PRIMARY
struct njob {
    fr_t *out;
    int rms;
    float *dx, *dw, *db;
};

static void norm_rows(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const struct njob *j = vp;
    const fr_t *x = j->out->src[0], *w = j->out->src[1], *b = j->out->src[2];
    double *st = j->out->aux;
    int64_t n = x->ne[0];
    const float *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = FR_FN(row_of)(x, r);
        if (j->dx) {
            fr_vec_norm_row_backward(n, xr, (const float *)j->out->grad->data + r * n, wd,
                                     (float)st[2 * r], (float)st[2 * r + 1], j->rms, j->dx + r * n);
            continue;
        }
        float mean, rstd;
        fr_vec_mean_rstd(n, xr, j->out->fp[0], j->rms, &mean, &rstd);
        st[2 * r] = mean, st[2 * r + 1] = rstd;
        fr_vec_norm_apply(n, xr, mean, rstd, wd, bd, (float *)j->out->data + r * n);
    }
}

/* columns [c0, c1) of dw and db, over all rows */
static void norm_cols(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    const struct njob *j = vp;
    const fr_t *x = j->out->src[0];
    const double *st = j->out->aux;
    int64_t n = x->ne[0], rows = fr_nelem(x) / n;
    for (int64_t r = 0; r < rows; r++)
        fr_vec_norm_wb_acc(c1 - c0, FR_FN(row_of)(x, r) + c0,
                           (const float *)j->out->grad->data + r * n + c0, (float)st[2 * r],
                           (float)st[2 * r + 1], j->dw ? j->dw + c0 : NULL,
                           j->db ? j->db + c0 : NULL);
}

static int norm_fast_ok(const fr_t *out) {
    const fr_t *x = out->src[0], *w = out->src[1], *b = out->src[2];
    return !fr_reference_mode() && x->nb[0] == sizeof(float) && (!w || fr_is_contiguous(w)) &&
           (!b || fr_is_contiguous(b));
}
#endif

static void FR_FN(norm_forward)(fr_t *out, int rms) {
#ifdef FR_PRIMARY
    if (norm_fast_ok(out)) {
        struct njob j = {out, rms, NULL, NULL, NULL};
        int64_t n = out->ne[0];
        fr_parallel_for(fr_nelem(out) / n, 16384 / n + 1, norm_rows, &j);
        return;
    }
#endif
    FR_FN(norm_ref)(out, rms);
}

static void FR_FN(norm_backward)(struct fr_ctx *ctx, fr_t *out, int rms) {
#ifdef FR_PRIMARY
    if (norm_fast_ok(out)) {
        fr_t *gx = fr_op_grad(ctx, out->src[0]), *gw = fr_op_grad(ctx, out->src[1]),
             *gb = fr_op_grad(ctx, out->src[2]);
        struct njob j = {out, rms, gx ? gx->data : NULL, gw ? gw->data : NULL,
                         gb ? gb->data : NULL};
        int64_t n = out->ne[0], rows = fr_nelem(out) / n;
        if (j.dx) fr_parallel_for(rows, 16384 / n + 1, norm_rows, &j);
        j.dx = NULL;
        if (j.dw || j.db) fr_parallel_for(n, 64, norm_cols, &j);
        return;
    }
#endif
    FR_FN(norm_backward_ref)(ctx, out, rms);
}

void FR_FN(fr_op_layernorm_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(norm_forward)(out, 0);
}
void FR_FN(fr_op_layernorm_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(norm_backward)(ctx, out, 0);
}
void FR_FN(fr_op_rmsnorm_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(norm_forward)(out, 1);
}
void FR_FN(fr_op_rmsnorm_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(norm_backward)(ctx, out, 1);
}

#ifdef FR_PRIMARY
static int check_param(const char *who, const char *what, const fr_t *p, const fr_t *x) {
    if (!p) return 0;
    if (p->ne[0] != x->ne[0] || fr_nelem(p) != x->ne[0]) {
        char s1[64], s2[64];
        return fr_error(FR_EINVAL, "%s: %s has shape %s, expected (%lld) for input %s", who, what,
                        fr_shape_str(p, s1, sizeof s1), (long long)x->ne[0],
                        fr_shape_str(x, s2, sizeof s2));
    }
    return 0;
}

static fr_t *norm(struct fr_ctx *ctx, int op, const char *who, fr_t *x, fr_t *w, fr_t *b,
                  float eps) {
    if (fr_op_check_float(who, x, w, b)) return NULL;
    if (fr_nelem(x) == 0) {
        fr_error(FR_EINVAL, "%s: empty input", who);
        return NULL;
    }
    if (check_param(who, "weight", w, x) || check_param(who, "bias", b, x)) return NULL;
    if (!(eps >= 0.0f && eps < INFINITY)) {
        fr_error(FR_EINVAL, "%s: eps %g must be finite and >= 0", who, (double)eps);
        return NULL;
    }
    fr_t *out = fr_op_new(ctx, op, x->dtype, x->ndim, x->ne, x, w, b, NULL);
    if (!out) return NULL;
    out->fp[0] = eps;
    out->aux = fr_ctx_alloc(ctx, (size_t)(fr_nelem(x) / x->ne[0]) * 2 * sizeof(double));
    if (!out->aux) return NULL;
    return fr_op_run(ctx, out);
}

/* x float {D, ...} any strides; w, b {D} of x's dtype or NULL. Output
 * like x (contiguous). NULL x gives NULL; bad shapes or eps give NULL and
 * an error. */
fr_t *fr_layernorm(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *b, float eps) {
    if (!x) return NULL;
    return norm(ctx, FR_OP_LAYERNORM, "layernorm", x, w, b, eps);
}
fr_t *fr_rmsnorm(struct fr_ctx *ctx, fr_t *x, fr_t *w, float eps) {
    if (!x) return NULL;
    return norm(ctx, FR_OP_RMSNORM, "rmsnorm", x, w, NULL, eps);
}
#endif

/* ---- layernorm over the channels of {W,H,C,N} (fr_layernorm_c) ----
 * Units of work are blocks of up to LNC_PB positions of one image: the
 * statistics of a position run down its C channels (stride W H), so each
 * unit sweeps the channel rows of its block, which are contiguous, with
 * one accumulator per position (double). aux holds mean and rstd per
 * position, as for fr_layernorm. dw and db are summed per channel over
 * every position in a second pass split by channels (no shared
 * accumulators, the same result at any thread count). */
#define LNC_PB 64

struct FR_FN(lnc_job) {
    fr_t *out;
    int64_t S, C, N, blocks; /* S = W H positions, blocks per image */
    real *dx, *dw, *db;
};

static void FR_FN(lnc_fwd)(void *vp, int64_t u0, int64_t u1, int tid) {
    (void)tid;
    const struct FR_FN(lnc_job) *j = vp;
    const fr_t *out = j->out, *w = out->src[1], *b = out->src[2];
    const real *x = out->src[0]->data;
    real *y = out->data;
    double *st = out->aux, eps = out->fp[0];
    for (int64_t u = u0; u < u1; u++) {
        int64_t n = u / j->blocks, p0 = (u % j->blocks) * LNC_PB;
        int64_t np = j->S - p0 < LNC_PB ? j->S - p0 : LNC_PB;
        double m[LNC_PB] = {0}, v[LNC_PB] = {0};
        const real *xn = x + n * j->C * j->S + p0;
        for (int64_t c = 0; c < j->C; c++)
            for (int64_t p = 0; p < np; p++)
                m[p] += xn[c * j->S + p];
        for (int64_t p = 0; p < np; p++)
            m[p] /= (double)j->C;
        for (int64_t c = 0; c < j->C; c++)
            for (int64_t p = 0; p < np; p++) {
                double d = xn[c * j->S + p] - m[p];
                v[p] += d * d;
            }
        for (int64_t p = 0; p < np; p++) {
            v[p] = 1.0 / sqrt(v[p] / (double)j->C + eps); /* now rstd */
            st[2 * (n * j->S + p0 + p)] = m[p], st[2 * (n * j->S + p0 + p) + 1] = v[p];
        }
        real *yn = y + n * j->C * j->S + p0;
        for (int64_t c = 0; c < j->C; c++) {
            double wc = w ? ((const real *)w->data)[c] : 1, bc = b ? ((const real *)b->data)[c] : 0;
            for (int64_t p = 0; p < np; p++)
                yn[c * j->S + p] = (real)((xn[c * j->S + p] - m[p]) * v[p] * wc + bc);
        }
    }
}

static void FR_FN(lnc_bwd_x)(void *vp, int64_t u0, int64_t u1, int tid) {
    (void)tid;
    const struct FR_FN(lnc_job) *j = vp;
    const fr_t *out = j->out, *w = out->src[1];
    const real *x = out->src[0]->data, *g = out->grad->data;
    const double *st = out->aux;
    for (int64_t u = u0; u < u1; u++) {
        int64_t n = u / j->blocks, p0 = (u % j->blocks) * LNC_PB;
        int64_t np = j->S - p0 < LNC_PB ? j->S - p0 : LNC_PB;
        double m1[LNC_PB] = {0}, m2[LNC_PB] = {0};
        const double *s = st + 2 * (n * j->S + p0);
        int64_t o = n * j->C * j->S + p0;
        for (int64_t c = 0; c < j->C; c++) {
            double wc = w ? ((const real *)w->data)[c] : 1;
            for (int64_t p = 0; p < np; p++) {
                double gw = g[o + c * j->S + p] * wc;
                m1[p] += gw;
                m2[p] += gw * (x[o + c * j->S + p] - s[2 * p]) * s[2 * p + 1];
            }
        }
        for (int64_t c = 0; c < j->C; c++) {
            double wc = w ? ((const real *)w->data)[c] : 1;
            for (int64_t p = 0; p < np; p++) {
                int64_t k = o + c * j->S + p;
                double xh = (x[k] - s[2 * p]) * s[2 * p + 1];
                j->dx[k] += (real)(s[2 * p + 1] *
                                   (g[k] * wc - m1[p] / (double)j->C - xh * m2[p] / (double)j->C));
            }
        }
    }
}

static void FR_FN(lnc_bwd_wb)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    const struct FR_FN(lnc_job) *j = vp;
    const real *x = j->out->src[0]->data, *g = j->out->grad->data;
    const double *st = j->out->aux;
    for (int64_t c = c0; c < c1; c++) {
        double sw = 0, sb = 0;
        for (int64_t n = 0; n < j->N; n++) {
            const real *xr = x + (n * j->C + c) * j->S, *gr = g + (n * j->C + c) * j->S;
            const double *s = st + 2 * n * j->S;
            for (int64_t p = 0; p < j->S; p++) {
                sw += gr[p] * (xr[p] - s[2 * p]) * s[2 * p + 1];
                sb += gr[p];
            }
        }
        if (j->dw) j->dw[c] += (real)sw;
        if (j->db) j->db[c] += (real)sb;
    }
}

static struct FR_FN(lnc_job) FR_FN(lnc_setup)(fr_t *out) {
    const fr_t *x = out->src[0];
    struct FR_FN(lnc_job) j = {out, x->ne[0] * x->ne[1], x->ne[2], x->ne[3], 0, NULL, NULL, NULL};
    j.blocks = (j.S + LNC_PB - 1) / LNC_PB;
    return j;
}

void FR_FN(fr_op_layernorm_c_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    struct FR_FN(lnc_job) j = FR_FN(lnc_setup)(out);
    fr_parallel_for(j.N * j.blocks, 1, FR_FN(lnc_fwd), &j);
}

void FR_FN(fr_op_layernorm_c_backward)(struct fr_ctx *ctx, fr_t *out) {
    struct FR_FN(lnc_job) j = FR_FN(lnc_setup)(out);
    fr_t *gx = fr_op_grad(ctx, out->src[0]), *gw = fr_op_grad(ctx, out->src[1]),
         *gb = fr_op_grad(ctx, out->src[2]);
    j.dx = gx ? gx->data : NULL, j.dw = gw ? gw->data : NULL, j.db = gb ? gb->data : NULL;
    if (j.dx) fr_parallel_for(j.N * j.blocks, 1, FR_FN(lnc_bwd_x), &j);
    if (j.dw || j.db) fr_parallel_for(j.C, 4, FR_FN(lnc_bwd_wb), &j);
}

#ifdef FR_PRIMARY
fr_t *fr_layernorm_c(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *b, float eps) {
    if (!x) return NULL;
    const char *who = "layernorm_c";
    if (fr_op_check_float(who, x, w, b)) return NULL;
    char s1[64], s2[64];
    if (x->ndim != 4 || fr_nelem(x) == 0) {
        fr_error(FR_EINVAL, "%s: input %s must be a non-empty (N, C, H, W)", who,
                 fr_shape_str(x, s1, sizeof s1));
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        const fr_t *p = i ? b : w;
        if (p && (fr_nelem(p) != x->ne[2] || p->ne[0] != x->ne[2])) {
            fr_error(FR_EINVAL, "%s: %s has shape %s, expected (%lld) for input %s", who,
                     i ? "bias" : "weight", fr_shape_str(p, s1, sizeof s1), (long long)x->ne[2],
                     fr_shape_str(x, s2, sizeof s2));
            return NULL;
        }
    }
    if (!(eps >= 0.0f && eps < INFINITY)) {
        fr_error(FR_EINVAL, "%s: eps %g must be finite and >= 0", who, (double)eps);
        return NULL;
    }
    x = fr_contiguous(ctx, x);
    fr_t *wc = w ? fr_contiguous(ctx, w) : NULL, *bc = b ? fr_contiguous(ctx, b) : NULL;
    if (!x || (w && !wc) || (b && !bc)) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_LAYERNORM_C, x->dtype, 4, x->ne, x, wc, bc, NULL);
    if (!out) return NULL;
    out->fp[0] = eps;
    out->aux = fr_ctx_alloc(ctx, (size_t)(x->ne[0] * x->ne[1] * x->ne[3]) * 2 * sizeof(double));
    if (!out->aux) return NULL;
    return fr_op_run(ctx, out);
}
#endif
