/* op_softmax.c: softmax and log_softmax over dim 0 (each row of ne[0]
 * elements), numerically stable (the row max is subtracted first).
 *
 * Reference: reads x through its strides, accumulates in double. Fast path
 * (f32, rows of x dense, i.e. nb[0] == 4): the vec_math.h row kernels, rows
 * split over the thread pool. Backward uses the saved output:
 *   softmax:     dx = y * (g - sum(g y))
 *   log_softmax: dx = g - exp(y) * sum(g)
 * A row whose max is not finite (all -inf, or an inf/NaN entry) comes out
 * NaN, as in PyTorch.
 */
#include "../kernels/vec_math.h"
#include "op.h"

static const real *FR_FN(x_row)(const fr_t *x, int64_t r) {
    int64_t i1 = r % x->ne[1], t = r / x->ne[1];
    return FR_AT(x->data, x->nb, 0, i1, t % x->ne[2], t / x->ne[2]);
}

static void FR_FN(softmax_ref)(fr_t *out, int logsm) {
    const fr_t *x = out->src[0];
    int64_t n = x->ne[0], rows = fr_nelem(x) / n;
    size_t s0 = x->nb[0];
    for (int64_t r = 0; r < rows; r++) {
        const char *xr = (const char *)FR_FN(x_row)(x, r);
        real *y = (real *)out->data + r * n;
        double m = *(const real *)xr, s = 0;
        for (int64_t i = 1; i < n; i++) {
            double v = *(const real *)(xr + i * s0);
            if (v > m) m = v;
        }
        for (int64_t i = 0; i < n; i++)
            s += exp(*(const real *)(xr + i * s0) - m);
        double ls = log(s);
        for (int64_t i = 0; i < n; i++) {
            double d = *(const real *)(xr + i * s0) - m;
            y[i] = (real)(logsm ? d - ls : exp(d) / s);
        }
    }
}

static void FR_FN(softmax_backward_ref)(fr_t *out, fr_t *gx, int logsm) {
    int64_t n = out->ne[0], rows = fr_nelem(out) / n;
    for (int64_t r = 0; r < rows; r++) {
        const real *y = (const real *)out->data + r * n, *g = (const real *)out->grad->data + r * n;
        real *dx = (real *)gx->data + r * n;
        double d = 0;
        for (int64_t i = 0; i < n; i++)
            d += logsm ? (double)g[i] : (double)g[i] * y[i];
        for (int64_t i = 0; i < n; i++)
            dx[i] += (real)(logsm ? g[i] - exp((double)y[i]) * d : y[i] * (g[i] - d));
    }
}

#ifdef FR_PRIMARY
struct sjob {
    fr_t *out;
    float *dx;
    int logsm;
};

static void sm_rows(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const struct sjob *j = vp;
    fr_t *out = j->out;
    int64_t n = out->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        float *y = (float *)out->data + r * n;
        if (j->dx) {
            const float *g = (const float *)out->grad->data + r * n;
            if (j->logsm)
                fr_vec_log_softmax_row_backward(n, y, g, j->dx + r * n);
            else
                fr_vec_softmax_row_backward(n, y, g, j->dx + r * n);
        } else if (j->logsm) {
            fr_vec_log_softmax_row(n, FR_FN(x_row)(out->src[0], r), y);
        } else {
            fr_vec_softmax_row(n, FR_FN(x_row)(out->src[0], r), y);
        }
    }
}

static int softmax_fast(fr_t *out, float *dx, int logsm) {
    if (!dx && out->src[0]->nb[0] != sizeof(float)) return 0;
    struct sjob j = {out, dx, logsm};
    int64_t n = out->ne[0];
    fr_parallel_for(fr_nelem(out) / n, 16384 / n + 1, sm_rows, &j);
    return 1;
}
#endif

static void FR_FN(softmax_forward)(fr_t *out, int logsm) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && softmax_fast(out, NULL, logsm)) return;
#endif
    FR_FN(softmax_ref)(out, logsm);
}

static void FR_FN(softmax_backward)(struct fr_ctx *ctx, fr_t *out, int logsm) {
    fr_t *gx = fr_op_grad(ctx, out->src[0]);
    if (!gx) return;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && softmax_fast(out, gx->data, logsm)) return;
#endif
    FR_FN(softmax_backward_ref)(out, gx, logsm);
}

void FR_FN(fr_op_softmax_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(softmax_forward)(out, 0);
}
void FR_FN(fr_op_softmax_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(softmax_backward)(ctx, out, 0);
}
void FR_FN(fr_op_log_softmax_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(softmax_forward)(out, 1);
}
void FR_FN(fr_op_log_softmax_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(softmax_backward)(ctx, out, 1);
}

#ifdef FR_PRIMARY
static fr_t *softmax_like(struct fr_ctx *ctx, int op, const char *who, fr_t *x) {
    if (!x) return NULL;
    if (fr_op_check_float(who, x, NULL, NULL)) return NULL;
    if (fr_nelem(x) == 0) {
        fr_error(FR_EINVAL, "%s: empty input", who);
        return NULL;
    }
    return fr_op_run(ctx, fr_op_new(ctx, op, x->dtype, x->ndim, x->ne, x, NULL, NULL, NULL));
}

/* x float, any strides, non-empty -> same shape (contiguous), normalised
 * over dim 0. NULL x gives NULL. */
fr_t *fr_softmax(struct fr_ctx *ctx, fr_t *x) {
    return softmax_like(ctx, FR_OP_SOFTMAX, "softmax", x);
}
fr_t *fr_log_softmax(struct fr_ctx *ctx, fr_t *x) {
    return softmax_like(ctx, FR_OP_LOG_SOFTMAX, "log_softmax", x);
}
#endif
