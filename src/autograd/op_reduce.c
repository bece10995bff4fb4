/* op_reduce.c: sum, mean and max over one dim (kept with size 1) or over
 * all elements (dim -1). ip[0] holds the dim.
 *
 * The reference reads the input through its strides and accumulates in
 * double (for f32 too), so the f32 result is the correctly rounded sum; the
 * fast path (contiguous f32, reduction over dim 0 or all) uses fr_vec_sum,
 * which also combines in double.
 */
#include "../kernels/vec.h"
#include "op.h"

/* Iterates the output index (o0..o3) and the reduced index r. */
#define FOR_OUT(out)                                                                               \
    for (int64_t o3 = 0; o3 < (out)->ne[3]; o3++)                                                  \
        for (int64_t o2 = 0; o2 < (out)->ne[2]; o2++)                                              \
            for (int64_t o1 = 0; o1 < (out)->ne[1]; o1++)                                          \
                for (int64_t o0 = 0; o0 < (out)->ne[0]; o0++)

static inline const real *FR_FN(elem)(const fr_t *x, int dim, int64_t o0, int64_t o1, int64_t o2,
                                      int64_t o3, int64_t r) {
    int64_t i[4] = {o0, o1, o2, o3};
    if (dim >= 0) i[dim] = r;
    return (const real *)FR_AT(x->data, x->nb, i[0], i[1], i[2], i[3]);
}

/* Reduce-all is done as a reduce over a flat view: r runs over all elements. */
static inline const real *FR_FN(elem_flat)(const fr_t *x, int64_t r) {
    int64_t i0 = r % x->ne[0], t = r / x->ne[0];
    int64_t i1 = t % x->ne[1];
    t /= x->ne[1];
    int64_t i2 = t % x->ne[2], i3 = t / x->ne[2];
    return (const real *)FR_AT(x->data, x->nb, i0, i1, i2, i3);
}

static void FR_FN(sum_like)(fr_t *out, int mean) {
    const fr_t *x = out->src[0];
    int dim = out->ip[0];
    real *o = out->data;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && fr_is_contiguous(x) && (dim == -1 || dim == 0)) {
        int64_t len = dim == -1 ? fr_nelem(x) : x->ne[0];
        for (int64_t r = 0, rows = fr_nelem(x) / len; r < rows; r++) {
            float s = fr_vec_sum(len, (const float *)x->data + r * len);
            o[r] = mean ? (float)((double)s / (double)len) : s;
        }
        return;
    }
#endif
    int64_t len = dim == -1 ? fr_nelem(x) : x->ne[dim];
    int64_t j = 0;
    FOR_OUT(out) {
        double s = 0;
        for (int64_t r = 0; r < len; r++)
            s += dim == -1 ? *FR_FN(elem_flat)(x, r) : *FR_FN(elem)(x, dim, o0, o1, o2, o3, r);
        o[j++] = (real)(mean ? s / (double)len : s);
    }
}

static void FR_FN(sum_like_backward)(struct fr_ctx *ctx, fr_t *out, int mean) {
    fr_t *g = fr_op_grad(ctx, out->src[0]);
    if (!g) return;
    int dim = out->ip[0];
    int64_t len = dim == -1 ? fr_nelem(g) : g->ne[dim];
    const real *go = out->grad->data;
    real scale = mean ? (real)(1.0 / (double)len) : (real)1;
    /* g is contiguous: walk it with the output index broadcast over dim */
    size_t nbo[4];
    fr_op_broadcast_strides(out, g->ne, sizeof(real), 1, nbo);
    if (dim == -1) memset(nbo, 0, sizeof nbo);
    real *gd = g->data;
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < g->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < g->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < g->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < g->ne[0]; i0++)
                    gd[j++] += scale * *(const real *)FR_AT(go, nbo, i0, i1, i2, i3);
}

void FR_FN(fr_op_sum_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(sum_like)(out, 0);
}
void FR_FN(fr_op_sum_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(sum_like_backward)(ctx, out, 0);
}
void FR_FN(fr_op_mean_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(sum_like)(out, 1);
}
void FR_FN(fr_op_mean_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(sum_like_backward)(ctx, out, 1);
}

/* max: aux holds the flat source index (int64) of each output's winner. */
void FR_FN(fr_op_max_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    const fr_t *x = out->src[0];
    int dim = out->ip[0];
    int64_t len = dim == -1 ? fr_nelem(x) : x->ne[dim];
    int64_t *arg = out->aux;
    real *o = out->data;
    int64_t j = 0;
    FOR_OUT(out) {
        real best = 0;
        int64_t bi = 0;
        for (int64_t r = 0; r < len; r++) {
            real v = dim == -1 ? *FR_FN(elem_flat)(x, r) : *FR_FN(elem)(x, dim, o0, o1, o2, o3, r);
            if (r == 0 || v > best || (v != v && best == best)) best = v, bi = r;
        }
        o[j] = best;
        if (arg) arg[j] = bi;
        j++;
    }
}

void FR_FN(fr_op_max_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *g = fr_op_grad(ctx, out->src[0]);
    if (!g) return;
    int dim = out->ip[0];
    const int64_t *arg = out->aux;
    const real *go = out->grad->data;
    real *gd = g->data;
    int64_t j = 0;
    FOR_OUT(out) {
        int64_t i[4] = {o0, o1, o2, o3};
        if (dim == -1) {
            gd[arg[j]] += go[j];
        } else {
            i[dim] = arg[j];
            gd[((i[3] * g->ne[2] + i[2]) * g->ne[1] + i[1]) * g->ne[0] + i[0]] += go[j];
        }
        j++;
    }
}

#ifdef FR_PRIMARY
static fr_t *reduce(struct fr_ctx *ctx, int op, const char *who, fr_t *x, int dim) {
    if (!x) return NULL;
    if (fr_op_check_float(who, x, NULL, NULL)) return NULL;
    if (dim < -1 || dim >= FR_MAX_DIMS) {
        fr_error(FR_EINVAL, "%s: dim %d not in -1..3", who, dim);
        return NULL;
    }
    if (fr_nelem(x) == 0) {
        fr_error(FR_EINVAL, "%s: empty input", who);
        return NULL;
    }
    int64_t ne[4] = {1, 1, 1, 1};
    int ndim = 1;
    if (dim >= 0) {
        memcpy(ne, x->ne, sizeof ne);
        ne[dim] = 1;
        ndim = x->ndim;
    }
    fr_t *out = fr_op_new(ctx, op, x->dtype, ndim, ne, x, NULL, NULL, NULL);
    if (!out) return NULL;
    out->ip[0] = dim;
    if (op == FR_OP_MAX) {
        out->aux = fr_ctx_alloc(ctx, (size_t)fr_nelem(out) * sizeof(int64_t));
        if (!out->aux) return NULL;
    }
    return fr_op_run(ctx, out);
}

fr_t *fr_sum(struct fr_ctx *ctx, fr_t *x, int dim) {
    return reduce(ctx, FR_OP_SUM, "sum", x, dim);
}
fr_t *fr_mean(struct fr_ctx *ctx, fr_t *x, int dim) {
    return reduce(ctx, FR_OP_MEAN, "mean", x, dim);
}
fr_t *fr_max(struct fr_ctx *ctx, fr_t *x, int dim) {
    return reduce(ctx, FR_OP_MAX, "max", x, dim);
}
#endif
