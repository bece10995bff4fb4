/* op_loss.c: cross_entropy (label smoothing, ignore label -1), mse,
 * smooth_l1, kl_div. Each returns a one-element mean loss.
 *
 * cross_entropy follows torch.nn.functional.cross_entropy with
 * ignore_index=-1: per row, (1-eps) * (lse - x[y]) + eps * (lse - mean(x)),
 * averaged over the rows whose label is not -1 (0 with zero gradient when
 * every row is ignored, where PyTorch gives NaN). The backward is fused:
 * dx = g/N_valid * (softmax(x) - (1-eps) onehot(y) - eps/C). The constructor
 * copies the labels (checked in range) into aux; the forward stores each
 * row's logsumexp there for the backward.
 *
 * The references read inputs through their strides and accumulate in
 * double. Fast paths (f32) need dense rows (cross_entropy) or contiguous
 * inputs (the others) and use the vec_math.h kernels, whose sums are also
 * combined in double.
 */
#include "../kernels/vec_math.h"
#include "op.h"

/* aux of cross_entropy: [0] = valid rows, [1 .. N] = row logsumexp,
 * [N+1 .. 2N] = row losses, then N int32 labels. */
struct xent {
    double *nvalid, *lse, *rl;
    int32_t *lab;
    int64_t rows, c;
};

static struct xent xent_of(fr_t *out) {
    const fr_t *x = out->src[0];
    struct xent e;
    e.c = x->ne[0];
    e.rows = fr_nelem(x) / e.c;
    e.nvalid = out->aux;
    e.lse = e.nvalid + 1;
    e.rl = e.lse + e.rows;
    e.lab = (int32_t *)(e.rl + e.rows);
    return e;
}

static const real *FR_FN(row_of)(const fr_t *x, int64_t r) {
    int64_t i1 = r % x->ne[1], t = r / x->ne[1];
    return FR_AT(x->data, x->nb, 0, i1, t % x->ne[2], t / x->ne[2]);
}

static double FR_FN(sum_rows)(const struct xent *e) {
    double s = 0;
    for (int64_t r = 0; r < e->rows; r++)
        s += e->rl[r];
    return *e->nvalid > 0 ? s / *e->nvalid : 0.0;
}

#ifdef FR_PRIMARY
struct xjob {
    fr_t *out;
    struct xent e;
    float eps, s;
    float *dx;
};

static void xent_rows(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    struct xjob *j = vp;
    const fr_t *x = j->out->src[0];
    int64_t c = j->e.c;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = FR_FN(row_of)(x, r);
        int32_t y = j->e.lab[r];
        if (j->dx) {
            if (y >= 0)
                fr_vec_xent_row_backward(c, xr, j->e.lse[r], y, j->eps, j->s, j->dx + r * c);
            continue;
        }
        if (y < 0) {
            j->e.rl[r] = 0;
            continue;
        }
        double lse = fr_vec_logsumexp(c, xr);
        double mean = j->eps != 0 ? (double)fr_vec_sum(c, xr) / (double)c : 0.0;
        j->e.lse[r] = lse;
        j->e.rl[r] = (1.0 - j->eps) * (lse - xr[y]) + j->eps * (lse - mean);
    }
}

static int xent_fast(fr_t *out, float *dx, float s) {
    const fr_t *x = out->src[0];
    if (x->nb[0] != sizeof(float)) return 0;
    struct xjob j = {out, xent_of(out), out->fp[0], s, dx};
    fr_parallel_for(j.e.rows, 8192 / j.e.c + 1, xent_rows, &j);
    return 1;
}
#endif

void FR_FN(fr_op_cross_entropy_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    struct xent e = xent_of(out);
    double eps = out->fp[0];
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && xent_fast(out, NULL, 0)) {
        *(real *)out->data = (real)FR_FN(sum_rows)(&e);
        return;
    }
#endif
    const fr_t *x = out->src[0];
    size_t s0 = x->nb[0];
    for (int64_t r = 0; r < e.rows; r++) {
        e.rl[r] = 0;
        if (e.lab[r] < 0) continue;
        const char *xr = (const char *)FR_FN(row_of)(x, r);
        double m = *(const real *)xr, s = 0, sum = 0;
        for (int64_t i = 1; i < e.c; i++) {
            double v = *(const real *)(xr + i * s0);
            if (v > m) m = v;
        }
        for (int64_t i = 0; i < e.c; i++) {
            double v = *(const real *)(xr + i * s0);
            s += exp(v - m);
            sum += v;
        }
        double lse = m + log(s);
        e.lse[r] = lse;
        e.rl[r] = (1.0 - eps) * (lse - *(const real *)(xr + e.lab[r] * s0)) +
                  eps * (lse - sum / (double)e.c);
    }
    *(real *)out->data = (real)FR_FN(sum_rows)(&e);
}

void FR_FN(fr_op_cross_entropy_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *gx = fr_op_grad(ctx, out->src[0]);
    struct xent e = xent_of(out);
    if (!gx || *e.nvalid == 0) return;
    double eps = out->fp[0];
    double s = (double)*(const real *)out->grad->data / *e.nvalid;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && xent_fast(out, gx->data, (float)s)) return;
#endif
    const fr_t *x = out->src[0];
    size_t s0 = x->nb[0];
    for (int64_t r = 0; r < e.rows; r++) {
        if (e.lab[r] < 0) continue;
        const char *xr = (const char *)FR_FN(row_of)(x, r);
        real *dx = (real *)gx->data + r * e.c;
        for (int64_t i = 0; i < e.c; i++) {
            double p = exp(*(const real *)(xr + i * s0) - e.lse[r]);
            double q = eps / (double)e.c + (i == e.lab[r] ? 1.0 - eps : 0.0);
            dx[i] += (real)(s * (p - q));
        }
    }
}

/* ---- mse, smooth_l1, kl_div: two same-shape inputs, mean-style loss ---- */

enum { L_MSE, L_SL1, L_KL };

/* Divisor of the sum: all elements (mse, smooth_l1) or rows (kl_div). */
static double pair_count(int k, const fr_t *a) {
    return (double)fr_nelem(a) / (k == L_KL ? (double)a->ne[0] : 1.0);
}

static double pair_term(int k, double a, double b, double beta) {
    double d = a - b, ad = fabs(d);
    switch (k) {
    case L_MSE:
        return d * d;
    case L_SL1:
        return ad < beta ? 0.5 * d * d / beta : ad - 0.5 * beta;
    default:
        return b == 0 ? 0.0 : b * (log(b) - a); /* a = log q, b = p */
    }
}

/* d term / da and d term / db */
static void pair_grad(int k, double a, double b, double beta, double *da, double *db) {
    double d = a - b;
    switch (k) {
    case L_MSE:
        *da = 2 * d, *db = -2 * d;
        break;
    case L_SL1:
        *da = fabs(d) < beta ? d / beta : (d > 0) - (d < 0);
        *db = -*da;
        break;
    default:
        *da = -b;
        *db = b == 0 ? 0.0 : log(b) - a + 1.0;
        break;
    }
}

#define FOR_ELEM(t)                                                                                \
    for (int64_t i3 = 0; i3 < (t)->ne[3]; i3++)                                                    \
        for (int64_t i2 = 0; i2 < (t)->ne[2]; i2++)                                                \
            for (int64_t i1 = 0; i1 < (t)->ne[1]; i1++)                                            \
                for (int64_t i0 = 0; i0 < (t)->ne[0]; i0++)

#define AT(t) (*(const real *)FR_AT((t)->data, (t)->nb, i0, i1, i2, i3))

#ifdef FR_PRIMARY
static int pair_fast_ok(const fr_t *out) {
    return !fr_reference_mode() && fr_is_contiguous(out->src[0]) && fr_is_contiguous(out->src[1]);
}
#endif

static void FR_FN(pair_forward)(int k, fr_t *out) {
    const fr_t *a = out->src[0], *b = out->src[1];
    double beta = out->fp[0], s = 0;
#ifdef FR_PRIMARY
    if (pair_fast_ok(out)) {
        int64_t n = fr_nelem(a);
        s = k == L_MSE   ? fr_vec_sqdiff_sum(n, a->data, b->data)
            : k == L_SL1 ? fr_vec_smooth_l1_sum(n, (float)beta, a->data, b->data)
                         : fr_vec_kl_sum(n, a->data, b->data);
        *(real *)out->data = (real)(s / pair_count(k, a));
        return;
    }
#endif
    FOR_ELEM(a) s += pair_term(k, AT(a), AT(b), beta);
    *(real *)out->data = (real)(s / pair_count(k, a));
}

static void FR_FN(pair_backward)(struct fr_ctx *ctx, int k, fr_t *out) {
    const fr_t *a = out->src[0], *b = out->src[1];
    fr_t *ga = fr_op_grad(ctx, out->src[0]), *gb = fr_op_grad(ctx, out->src[1]);
    if (!ga && !gb) return;
    double beta = out->fp[0];
    double s = (double)*(const real *)out->grad->data / pair_count(k, a);
#ifdef FR_PRIMARY
    if (pair_fast_ok(out)) {
        int64_t n = fr_nelem(a);
        const float *pa = a->data, *pb = b->data;
        float fs = (float)s;
        if (k == L_MSE) {
            if (ga) fr_vec_acc_diff(n, 2 * fs, pa, pb, ga->data);
            if (gb) fr_vec_acc_diff(n, -2 * fs, pa, pb, gb->data);
        } else if (k == L_SL1) {
            if (ga) fr_vec_smooth_l1_backward(n, (float)beta, fs, pa, pb, ga->data);
            if (gb) fr_vec_smooth_l1_backward(n, (float)beta, -fs, pa, pb, gb->data);
        } else {
            if (ga) fr_vec_acc_scaled(n, -fs, pb, ga->data);
            if (gb) fr_vec_kl_backward_p(n, fs, pa, pb, gb->data);
        }
        return;
    }
#endif
    real *pga = ga ? ga->data : NULL, *pgb = gb ? gb->data : NULL;
    int64_t j = 0;
    FOR_ELEM(a) {
        double da, db;
        pair_grad(k, AT(a), AT(b), beta, &da, &db);
        if (pga) pga[j] += (real)(s * da);
        if (pgb) pgb[j] += (real)(s * db);
        j++;
    }
}

#define PAIR_OP(name, K)                                                                           \
    void FR_FN(fr_op_##name##_forward)(struct fr_ctx * ctx, fr_t * out) {                          \
        (void)ctx;                                                                                 \
        FR_FN(pair_forward)(K, out);                                                               \
    }                                                                                              \
    void FR_FN(fr_op_##name##_backward)(struct fr_ctx * ctx, fr_t * out) {                         \
        FR_FN(pair_backward)(ctx, K, out);                                                         \
    }

PAIR_OP(mse, L_MSE)
PAIR_OP(smooth_l1, L_SL1)
PAIR_OP(kl_div, L_KL)

#ifdef FR_PRIMARY
static const int64_t ONE[1] = {1};

/* logits {C, N...} float (any strides), labels I32 {N...} with values in
 * [0, C) or -1 (ignored); 0 <= label_smoothing <= 1. Returns a {1} loss.
 * NULL + error on a shape, dtype, label or smoothing problem. */
fr_t *fr_cross_entropy(struct fr_ctx *ctx, fr_t *logits, fr_t *labels, float label_smoothing) {
    if (!logits || !labels) return NULL;
    if (fr_op_check_float("cross_entropy", logits, NULL, NULL)) return NULL;
    if (labels->dtype != FR_I32) {
        fr_error(FR_EINVAL, "cross_entropy: labels have dtype %s, expected I32",
                 fr_dtype_name(labels->dtype));
        return NULL;
    }
    char s1[64], s2[64];
    int ok = logits->ne[0] > 0 && labels->ne[3] == 1;
    for (int d = 0; d < 3; d++)
        ok = ok && labels->ne[d] == logits->ne[d + 1];
    if (!ok || fr_nelem(logits) == 0) {
        fr_error(FR_EINVAL, "cross_entropy: logits %s (classes innermost) do not match labels %s",
                 fr_shape_str(logits, s1, sizeof s1), fr_shape_str(labels, s2, sizeof s2));
        return NULL;
    }
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f)) {
        fr_error(FR_EINVAL, "cross_entropy: label_smoothing %g not in [0, 1]",
                 (double)label_smoothing);
        return NULL;
    }
    fr_t *out =
        fr_op_new(ctx, FR_OP_CROSS_ENTROPY, logits->dtype, 1, ONE, logits, NULL, NULL, NULL);
    if (!out) return NULL;
    int64_t c = logits->ne[0], rows = fr_nelem(logits) / c;
    out->aux =
        fr_ctx_alloc(ctx, (size_t)(1 + 2 * rows) * sizeof(double) + (size_t)rows * sizeof(int32_t));
    if (!out->aux) return NULL;
    out->fp[0] = label_smoothing;
    struct xent e = xent_of(out);
    int64_t nvalid = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t i0 = r % labels->ne[0], t = r / labels->ne[0];
        int32_t y = *(const int32_t *)FR_AT(labels->data, labels->nb, i0, t % labels->ne[1],
                                            t / labels->ne[1], 0);
        if (y < -1 || y >= c) {
            fr_error(FR_EINVAL, "cross_entropy: label %d at row %lld not in [0, %lld) or -1",
                     (int)y, (long long)r, (long long)c);
            return NULL;
        }
        e.lab[r] = y;
        nvalid += y >= 0;
    }
    *e.nvalid = (double)nvalid;
    return fr_op_run(ctx, out);
}

static fr_t *pair(struct fr_ctx *ctx, int op, const char *who, fr_t *a, fr_t *b, float beta) {
    if (!a || !b) return NULL;
    if (fr_op_check_float(who, a, b, NULL)) return NULL;
    if (!fr_same_shape(a, b) || fr_nelem(a) == 0) {
        char s1[64], s2[64];
        fr_error(FR_EINVAL, "%s: shapes %s and %s must be equal and non-empty", who,
                 fr_shape_str(a, s1, sizeof s1), fr_shape_str(b, s2, sizeof s2));
        return NULL;
    }
    fr_t *out = fr_op_new(ctx, op, a->dtype, 1, ONE, a, b, NULL, NULL);
    if (!out) return NULL;
    out->fp[0] = beta;
    return fr_op_run(ctx, out);
}

/* a, b float of one shape (any strides) -> {1} mean squared difference. */
fr_t *fr_mse(struct fr_ctx *ctx, fr_t *a, fr_t *b) {
    return pair(ctx, FR_OP_MSE, "mse", a, b, 0);
}

/* Mean Huber-style loss as torch smooth_l1_loss; beta >= 0 (0 is L1). */
fr_t *fr_smooth_l1(struct fr_ctx *ctx, fr_t *a, fr_t *b, float beta) {
    if (a && b && !(beta >= 0.0f && beta < INFINITY)) {
        fr_error(FR_EINVAL, "smooth_l1: beta %g must be finite and >= 0", (double)beta);
        return NULL;
    }
    return pair(ctx, FR_OP_SMOOTH_L1, "smooth_l1", a, b, beta);
}

/* KL(p || q) divided by the number of rows (elements / C), which is
 * PyTorch's "batchmean" for 2-d inputs {C, N}. logq and p share one shape. */
fr_t *fr_kl_div(struct fr_ctx *ctx, fr_t *logq, fr_t *p) {
    return pair(ctx, FR_OP_KL_DIV, "kl_div", logq, p, 0);
}
#endif
