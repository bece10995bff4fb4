/* op_where.c: where(cond, a, b) = cond ? a : b with three-way broadcasting.
 *
 * The constructor turns cond (any dtype, read through its broadcast strides;
 * nonzero and NaN are true) into a byte mask of the output's shape, kept in
 * aux, so forward and backward in both precisions read one precomputed mask.
 * Reference: a and b read through broadcast strides. Fast path (f32): when a
 * and b are contiguous with the output's shape, one vectorised select; the
 * backward then splits g by the mask the same way. Broadcast inputs take
 * the reference, which accumulates into stride-0 grads.
 */
#include "../kernels/vec_math.h"
#include "op.h"

#define FOR_OUT(ne)                                                                                \
    for (int64_t i3 = 0; i3 < (ne)[3]; i3++)                                                       \
        for (int64_t i2 = 0; i2 < (ne)[2]; i2++)                                                   \
            for (int64_t i1 = 0; i1 < (ne)[1]; i1++)                                               \
                for (int64_t i0 = 0; i0 < (ne)[0]; i0++)

#ifdef FR_PRIMARY
static int full(const fr_t *t, const fr_t *out) {
    return fr_is_contiguous(t) && fr_same_shape(t, out);
}
#endif

void FR_FN(fr_op_where_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    const fr_t *a = out->src[0], *b = out->src[1];
    const uint8_t *m = out->aux;
    real *o = out->data;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && full(a, out) && full(b, out)) {
        fr_vec_where(fr_nelem(out), m, a->data, b->data, o);
        return;
    }
#endif
    size_t na[4], nbb[4];
    fr_op_broadcast_strides(a, out->ne, sizeof(real), 0, na);
    fr_op_broadcast_strides(b, out->ne, sizeof(real), 0, nbb);
    int64_t j = 0;
    FOR_OUT(out->ne) {
        o[j] = m[j] ? *(const real *)FR_AT(a->data, na, i0, i1, i2, i3)
                    : *(const real *)FR_AT(b->data, nbb, i0, i1, i2, i3);
        j++;
    }
}

void FR_FN(fr_op_where_backward)(struct fr_ctx *ctx, fr_t *out) {
    const uint8_t *m = out->aux;
    const real *g = out->grad->data;
    for (int s = 0; s < 2; s++) {
        fr_t *gi = fr_op_grad(ctx, out->src[s]);
        if (!gi) continue;
        uint8_t want = s == 0; /* a takes the gradient where the mask holds */
#ifdef FR_PRIMARY
        if (!fr_reference_mode() && fr_same_shape(gi, out)) {
            fr_vec_where_acc(fr_nelem(out), m, want, g, gi->data);
            continue;
        }
#endif
        size_t ng[4];
        fr_op_broadcast_strides(out->src[s], out->ne, sizeof(real), 1, ng);
        real *gd = gi->data;
        int64_t j = 0;
        FOR_OUT(out->ne) {
            if ((m[j] != 0) == want) *(real *)FR_AT(gd, ng, i0, i1, i2, i3) += g[j];
            j++;
        }
    }
}

#ifdef FR_PRIMARY
/* Truth of one element of any dtype: nonzero (NaN counts as true). */
static int truth(const fr_t *c, const void *p) {
    switch (c->dtype) {
    case FR_F32:
        return *(const float *)p != 0.0f;
    case FR_F64:
        return *(const double *)p != 0.0;
    case FR_F16:
    case FR_BF16:
        return (*(const uint16_t *)p & 0x7fff) != 0;
    case FR_I32:
        return *(const int32_t *)p != 0;
    case FR_I64:
        return *(const int64_t *)p != 0;
    default:
        return *(const uint8_t *)p != 0; /* U8, I8 */
    }
}

/* cond, a, b broadcast together (dims aligned at 0); a and b share a float
 * dtype; cond may be any dtype. Output contiguous. NULL + error on a shape
 * that does not broadcast or a bad dtype; NULL inputs give NULL. */
fr_t *fr_where(struct fr_ctx *ctx, fr_t *cond, fr_t *a, fr_t *b) {
    if (!cond || !a || !b) return NULL;
    if (fr_op_check_float("where", a, b, NULL)) return NULL;
    if ((unsigned)cond->dtype >= FR_NDTYPES) {
        fr_error(FR_EINVAL, "where: condition has an invalid dtype");
        return NULL;
    }
    int nd1, nd;
    int64_t ne1[4], ne[4];
    if (fr_op_broadcast_shape("where", a, b, &nd1, ne1)) return NULL;
    struct fr_tensor ab = {.dtype = a->dtype, .ndim = nd1};
    memcpy(ab.ne, ne1, sizeof ne1);
    if (fr_op_broadcast_shape("where", cond, &ab, &nd, ne)) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_WHERE, a->dtype, nd, ne, a, b, NULL, NULL);
    if (!out) return NULL;
    uint8_t *m = fr_ctx_alloc(ctx, (size_t)fr_nelem(out) + 1);
    if (!m) return NULL;
    size_t nc[4];
    fr_op_broadcast_strides(cond, ne, 0, 0, nc);
    int64_t j = 0;
    FOR_OUT(ne) m[j++] = (uint8_t)truth(cond, FR_AT(cond->data, nc, i0, i1, i2, i3));
    out->aux = m;
    return fr_op_run(ctx, out);
}
#endif
