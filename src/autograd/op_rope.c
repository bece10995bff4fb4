/* op_rope.c: rotary position embeddings (RoPE) as an op. ip[0] heads,
 * ip[1] half (pair layout), ip[2] pos0; fp[0] theta. The backward is the
 * rotation by the opposite angle. Angles are computed in double so f32 and
 * the f64 reference agree and long positions stay accurate. */
#include "op.h"

static void FR_FN(rope_apply)(const fr_t *x, fr_t *y, const fr_t *out, real sign, int acc) {
    int H = out->ip[0], half = out->ip[1], pos0 = out->ip[2];
    double theta = out->fp[0];
    int64_t D = out->ne[0], hs = D / H;
    for (int64_t b = 0; b < out->ne[2] * out->ne[3]; b++) {
        int64_t i2 = b % out->ne[2], i3 = b / out->ne[2];
        for (int64_t t = 0; t < out->ne[1]; t++) {
            const real *xr = FR_AT(x->data, x->nb, 0, t, i2, i3);
            real *yr = FR_AT(y->data, y->nb, 0, t, i2, i3);
            for (int64_t i = 0; i < hs / 2; i++) {
                double a = (double)(pos0 + t) * pow(theta, -2.0 * (double)i / (double)hs);
                real cs = (real)cos(a), sn = sign * (real)sin(a);
                for (int64_t h = 0; h < H; h++) {
                    int64_t i0 = h * hs + (half ? i : 2 * i),
                            i1 = h * hs + (half ? i + hs / 2 : 2 * i + 1);
                    real x0 = xr[i0], x1 = xr[i1];
                    real r0 = x0 * cs - x1 * sn, r1 = x0 * sn + x1 * cs;
                    if (acc) {
                        yr[i0] += r0;
                        yr[i1] += r1;
                    } else {
                        yr[i0] = r0;
                        yr[i1] = r1;
                    }
                }
            }
        }
    }
}

void FR_FN(fr_op_rope_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(rope_apply)(out->src[0], out, out, 1, 0);
}

void FR_FN(fr_op_rope_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *g = fr_op_grad(ctx, out->src[0]);
    if (g) FR_FN(rope_apply)(out->grad, g, out, -1, 1);
}

#ifdef FR_PRIMARY
fr_t *fr_rope(struct fr_ctx *ctx, fr_t *x, int n_heads, float theta, int half, int pos0) {
    if (!x) return NULL;
    if (fr_op_check_float("rope", x, NULL, NULL)) return NULL;
    if (n_heads < 1 || x->ne[0] % n_heads || (x->ne[0] / n_heads) % 2) {
        fr_error(FR_EINVAL, "rope: row of %lld does not split into %d heads of even size",
                 (long long)x->ne[0], n_heads);
        return NULL;
    }
    if (x->nb[0] != fr_dtype_size(x->dtype)) x = fr_contiguous(ctx, x);
    if (!x || !(theta > 0) || pos0 < 0) {
        if (x) fr_error(FR_EINVAL, "rope: theta %g must be > 0 and pos0 %d >= 0", theta, pos0);
        return NULL;
    }
    fr_t *out = fr_op_new(ctx, FR_OP_ROPE, x->dtype, x->ndim, x->ne, x, NULL, NULL, NULL);
    if (!out) return NULL;
    out->ip[0] = n_heads;
    out->ip[1] = half;
    out->ip[2] = pos0;
    out->fp[0] = theta;
    return fr_op_run(ctx, out);
}
#endif
