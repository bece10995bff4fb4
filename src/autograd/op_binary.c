/* op_binary.c: add, sub, mul, div with NumPy broadcasting.
 *
 * Reference path: one loop over the output's 4-d index reading a and b
 * through broadcast strides (stride 0 on broadcast dims). Fast path (f32):
 * when a and b are contiguous and either have the output's shape or are a
 * contiguous block repeated along outer dims (a bias), whole rows go to the
 * vec.h kernels, split over the thread pool. Backward reduces the output
 * grad over each input's broadcast dims by accumulating through stride-0
 * strides into the input's (contiguous) grad.
 */
#include "../kernels/vec.h"
#include "op.h"

enum { B_ADD, B_SUB, B_MUL, B_DIV };

static inline real FR_FN(apply)(int k, real x, real y) {
    switch (k) {
    case B_ADD:
        return x + y;
    case B_SUB:
        return x - y;
    case B_MUL:
        return x * y;
    default:
        return x / y;
    }
}

static void FR_FN(binary_ref)(int k, fr_t *out) {
    const fr_t *a = out->src[0], *b = out->src[1];
    size_t na[4], nbb[4];
    fr_op_broadcast_strides(a, out->ne, sizeof(real), 0, na);
    fr_op_broadcast_strides(b, out->ne, sizeof(real), 0, nbb);
    real *o = out->data;
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < out->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < out->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < out->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < out->ne[0]; i0++)
                    o[j++] = FR_FN(apply)(k, *(const real *)FR_AT(a->data, na, i0, i1, i2, i3),
                                          *(const real *)FR_AT(b->data, nbb, i0, i1, i2, i3));
}

#ifdef FR_PRIMARY
/* Size of the innermost block of t (contiguous) that repeats when t is read
 * with the output's shape: t covers dims [0, k) fully and is 1 beyond.
 * Returns the block length in elements, or 0 if t is not of that form. */
static int64_t repeat_block(const fr_t *t, const fr_t *out) {
    if (!fr_is_contiguous(t)) return 0;
    int d = 0;
    int64_t n = 1;
    while (d < FR_MAX_DIMS && t->ne[d] == out->ne[d])
        n *= t->ne[d++];
    for (int e = d; e < FR_MAX_DIMS; e++)
        if (t->ne[e] != 1) return 0;
    return n;
}

struct bin_job {
    int k;
    const float *a, *b;
    float *o;
    int64_t m, sa, sb; /* row length; row strides of a and b (0 = repeated) */
};

static void bin_rows(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const struct bin_job *j = vp;
    for (int64_t r = r0; r < r1; r++) {
        const float *pa = j->a + r * j->sa, *pb = j->b + r * j->sb;
        float *po = j->o + r * j->m;
        switch (j->k) {
        case B_ADD:
            fr_vec_add(j->m, pa, pb, po);
            break;
        case B_SUB:
            fr_vec_sub(j->m, pa, pb, po);
            break;
        case B_MUL:
            fr_vec_mul(j->m, pa, pb, po);
            break;
        default:
            fr_vec_div(j->m, pa, pb, po);
            break;
        }
    }
}

/* Row geometry when each operand is either full (contiguous, output shape)
 * or a contiguous block repeated along the outer dims. 0 if neither. */
static int fast_geometry(const fr_t *out, int64_t *m, int64_t *sa, int64_t *sb) {
    int64_t n = fr_nelem(out);
    int64_t ba = repeat_block(out->src[0], out), bb = repeat_block(out->src[1], out);
    if (!ba || !bb || (ba != n && bb != n)) return 0;
    if (ba == n && bb == n) {
        *m = n >= 4096 ? 1024 : n; /* rows of 1024 for the pool */
        if (n % *m) *m = n;
        *sa = *sb = *m;
    } else {
        *m = ba < bb ? ba : bb;
        *sa = ba == n ? *m : 0;
        *sb = bb == n ? *m : 0;
    }
    return 1;
}

static int binary_fast(int k, fr_t *out) {
    struct bin_job j = {k, out->src[0]->data, out->src[1]->data, out->data, 0, 0, 0};
    if (!fast_geometry(out, &j.m, &j.sa, &j.sb)) return 0;
    fr_parallel_for(fr_nelem(out) / j.m, (1 << 15) / j.m + 1, bin_rows, &j);
    return 1;
}
#endif

static void FR_FN(binary_forward)(int k, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && binary_fast(k, out)) return;
#endif
    FR_FN(binary_ref)(k, out);
}

/* ga[bcast(i)] += ca * g[i] * f(a, b)  -- the backward, reference form. */
static void FR_FN(binary_backward)(struct fr_ctx *ctx, int k, fr_t *out) {
    fr_t *a = out->src[0], *b = out->src[1];
    fr_t *ga = fr_op_grad(ctx, a), *gb = fr_op_grad(ctx, b);
    size_t na[4], nbb[4], nga[4] = {0}, ngb[4] = {0};
    fr_op_broadcast_strides(a, out->ne, sizeof(real), 0, na);
    fr_op_broadcast_strides(b, out->ne, sizeof(real), 0, nbb);
    if (ga) fr_op_broadcast_strides(a, out->ne, sizeof(real), 1, nga);
    if (gb) fr_op_broadcast_strides(b, out->ne, sizeof(real), 1, ngb);
    const real *g = out->grad->data;
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < out->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < out->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < out->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < out->ne[0]; i0++, j++) {
                    real x = *(const real *)FR_AT(a->data, na, i0, i1, i2, i3);
                    real y = *(const real *)FR_AT(b->data, nbb, i0, i1, i2, i3);
                    real dx, dy;
                    switch (k) {
                    case B_ADD:
                        dx = g[j], dy = g[j];
                        break;
                    case B_SUB:
                        dx = g[j], dy = -g[j];
                        break;
                    case B_MUL:
                        dx = g[j] * y, dy = g[j] * x;
                        break;
                    default:
                        dx = g[j] / y, dy = -g[j] * x / (y * y);
                        break;
                    }
                    if (ga) *(real *)FR_AT(ga->data, nga, i0, i1, i2, i3) += dx;
                    if (gb) *(real *)FR_AT(gb->data, ngb, i0, i1, i2, i3) += dy;
                }
}

#ifdef FR_PRIMARY
/* Fast backward for add/sub/mul on the fast forward's geometry: a full
 * input's grad gets g (times the other operand for mul) row by row; a
 * repeated input's grad gets the sum over rows. */
static int binary_backward_fast(struct fr_ctx *ctx, int k, fr_t *out) {
    int64_t m, st[2];
    if (k == B_DIV || !fast_geometry(out, &m, &st[0], &st[1])) return 0;
    const float *g = out->grad->data;
    int64_t rows = fr_nelem(out) / m;
    for (int s = 0; s < 2; s++) {
        /* an input of the output's size gets every element written: a fresh
         * grad of add / sub's first input is a copy, not zeros plus g */
        int fresh = 0;
        fr_t *gi = st[s] == m && (k == B_ADD || (k == B_SUB && s == 0))
                       ? fr_op_grad_fresh(ctx, out->src[s], &fresh)
                       : fr_op_grad(ctx, out->src[s]);
        if (!gi) continue;
        const float *other = out->src[1 - s]->data;
        float *gd = gi->data;
        if (fresh) {
            memcpy(gd, g, sizeof(float) * (size_t)fr_nelem(out));
            continue;
        }
        for (int64_t r = 0; r < rows; r++) {
            float *dst = gd + r * st[s];
            if (k == B_MUL)
                fr_vec_acc_mul(m, g + r * m, other + r * st[1 - s], dst);
            else if (k == B_SUB && s == 1)
                fr_vec_acc_scaled(m, -1.0f, g + r * m, dst);
            else
                fr_vec_acc(m, g + r * m, dst);
        }
    }
    return 1;
}
#endif

#define BINARY_OP(name, K)                                                                         \
    void FR_FN(fr_op_##name##_forward)(struct fr_ctx * ctx, fr_t * out) {                          \
        (void)ctx;                                                                                 \
        FR_FN(binary_forward)(K, out);                                                             \
    }                                                                                              \
    void FR_FN(fr_op_##name##_backward)(struct fr_ctx * ctx, fr_t * out) {                         \
        FR_FN(binary_backward_dispatch)(ctx, K, out);                                              \
    }

static void FR_FN(binary_backward_dispatch)(struct fr_ctx *ctx, int k, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && binary_backward_fast(ctx, k, out)) return;
#endif
    FR_FN(binary_backward)(ctx, k, out);
}

BINARY_OP(add, B_ADD)
BINARY_OP(sub, B_SUB)
BINARY_OP(mul, B_MUL)
BINARY_OP(div, B_DIV)

#ifdef FR_PRIMARY
static fr_t *binary(struct fr_ctx *ctx, int op, const char *who, fr_t *a, fr_t *b) {
    if (!a || !b) return NULL;
    if (fr_op_check_float(who, a, b, NULL)) return NULL;
    int ndim;
    int64_t ne[4];
    if (fr_op_broadcast_shape(who, a, b, &ndim, ne)) return NULL;
    return fr_op_run(ctx, fr_op_new(ctx, op, a->dtype, ndim, ne, a, b, NULL, NULL));
}

fr_t *fr_add(struct fr_ctx *ctx, fr_t *a, fr_t *b) {
    return binary(ctx, FR_OP_ADD, "add", a, b);
}
fr_t *fr_sub(struct fr_ctx *ctx, fr_t *a, fr_t *b) {
    return binary(ctx, FR_OP_SUB, "sub", a, b);
}
fr_t *fr_mul(struct fr_ctx *ctx, fr_t *a, fr_t *b) {
    return binary(ctx, FR_OP_MUL, "mul", a, b);
}
fr_t *fr_div(struct fr_ctx *ctx, fr_t *a, fr_t *b) {
    return binary(ctx, FR_OP_DIV, "div", a, b);
}
#endif
