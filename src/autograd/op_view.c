/* op_view.c: views (reshape, permute, transpose, slice, expand) and the two
 * copying shape ops (contiguous, concat).
 *
 * A view shares its source's data. All views record one op, VIEW, whose
 * backward adds the view's (contiguous) grad into the source's grad read
 * through the view's geometry expressed on the source grad's contiguous
 * layout: ip[0..3] hold the byte strides (in elements) and ip[4] the element
 * offset of the view inside the source, so permutes, slices and broadcasts
 * (stride 0, which accumulates) all share one rule.
 */
#include "op.h"

#include <stdlib.h>
#include <string.h>

/* out[i] += in[i] with out read through (ne, strides in elements). */
static void FR_FN(strided_accumulate)(real *dst, const int64_t *ne, const int64_t *st,
                                      const real *src) {
    int64_t k = 0;
    for (int64_t i3 = 0; i3 < ne[3]; i3++)
        for (int64_t i2 = 0; i2 < ne[2]; i2++)
            for (int64_t i1 = 0; i1 < ne[1]; i1++) {
                real *row = dst + i3 * st[3] + i2 * st[2] + i1 * st[1];
                for (int64_t i0 = 0; i0 < ne[0]; i0++)
                    row[i0 * st[0]] += src[k++];
            }
}

/* out[i] = in[i], the same geometry: a whole-source view's fresh grad. */
static void FR_FN(strided_store)(real *dst, const int64_t *ne, const int64_t *st, const real *src) {
    int64_t k = 0;
    for (int64_t i3 = 0; i3 < ne[3]; i3++)
        for (int64_t i2 = 0; i2 < ne[2]; i2++)
            for (int64_t i1 = 0; i1 < ne[1]; i1++) {
                real *row = dst + i3 * st[3] + i2 * st[2] + i1 * st[1];
                if (st[0] == 1) {
                    memcpy(row, src + k, sizeof(real) * (size_t)ne[0]);
                    k += ne[0];
                } else {
                    for (int64_t i0 = 0; i0 < ne[0]; i0++)
                        row[i0 * st[0]] = src[k++];
                }
            }
}

void FR_FN(fr_op_view_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    (void)out; /* data already points into the source */
}

void FR_FN(fr_op_view_backward)(struct fr_ctx *ctx, fr_t *out) {
    int64_t st[4] = {out->ip[0], out->ip[1], out->ip[2], out->ip[3]};
    /* a view of the whole source with no repeated element (reshape,
     * permute, transpose: no stride 0 on a dim longer than 1) touches every
     * element of the source grad once: a fresh grad is stored, not zeroed
     * and added to */
    int whole = out->ip[4] == 0 && fr_nelem(out) == fr_nelem(out->src[0]), fresh = 0;
    for (int d = 0; d < 4; d++)
        if (d < out->ndim && out->ne[d] > 1 && st[d] == 0) whole = 0;
    fr_t *g = whole ? fr_op_grad_fresh(ctx, out->src[0], &fresh) : fr_op_grad(ctx, out->src[0]);
    if (!g) return;
    if (fresh)
        FR_FN(strided_store)((real *)g->data, out->ne, st, (const real *)out->grad->data);
    else
        FR_FN(strided_accumulate)
    ((real *)g->data + out->ip[4], out->ne, st, (const real *)out->grad->data);
}

void FR_FN(fr_op_contiguous_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    const fr_t *x = out->src[0];
    real *o = out->data;
    int64_t k = 0;
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
                const char *row = FR_AT(x->data, x->nb, 0, i1, i2, i3);
                if (x->nb[0] == sizeof(real)) {
                    memcpy(o + k, row, (size_t)x->ne[0] * sizeof(real));
                    k += x->ne[0];
                } else {
                    for (int64_t i0 = 0; i0 < x->ne[0]; i0++)
                        o[k++] = *(const real *)(row + (size_t)i0 * x->nb[0]);
                }
            }
}

void FR_FN(fr_op_contiguous_backward)(struct fr_ctx *ctx, fr_t *out) {
    int fresh;
    fr_t *g = fr_op_grad_fresh(ctx, out->src[0], &fresh);
    if (!g) return;
    const real *go = out->grad->data;
    real *gx = g->data;
    if (fresh) {
        memcpy(gx, go, sizeof(real) * (size_t)fr_nelem(out));
        return;
    }
    for (int64_t i = 0, n = fr_nelem(out); i < n; i++)
        gx[i] += go[i];
}

/* concat: ip[0] = dim */
void FR_FN(fr_op_concat_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    int dim = out->ip[0];
    for (int s = 0; s < 2; s++) {
        const fr_t *x = out->src[s];
        int64_t off = s ? out->src[0]->ne[dim] : 0;
        for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
            for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
                for (int64_t i1 = 0; i1 < x->ne[1]; i1++)
                    for (int64_t i0 = 0; i0 < x->ne[0]; i0++) {
                        int64_t j[4] = {i0, i1, i2, i3};
                        j[dim] += off;
                        *(real *)FR_AT(out->data, out->nb, j[0], j[1], j[2], j[3]) =
                            *(const real *)FR_AT(x->data, x->nb, i0, i1, i2, i3);
                    }
    }
}

void FR_FN(fr_op_concat_backward)(struct fr_ctx *ctx, fr_t *out) {
    int dim = out->ip[0];
    for (int s = 0; s < 2; s++) {
        fr_t *g = fr_op_grad(ctx, out->src[s]);
        if (!g) continue;
        int64_t off = s ? out->src[0]->ne[dim] : 0;
        for (int64_t i3 = 0; i3 < g->ne[3]; i3++)
            for (int64_t i2 = 0; i2 < g->ne[2]; i2++)
                for (int64_t i1 = 0; i1 < g->ne[1]; i1++)
                    for (int64_t i0 = 0; i0 < g->ne[0]; i0++) {
                        int64_t j[4] = {i0, i1, i2, i3};
                        j[dim] += off;
                        *(real *)FR_AT(g->data, g->nb, i0, i1, i2, i3) += *(const real *)FR_AT(
                            out->grad->data, out->grad->nb, j[0], j[1], j[2], j[3]);
                    }
    }
}

#ifdef FR_PRIMARY

/* Makes a view of x with the given shape/strides (bytes) at byte offset. The
 * backward geometry is recorded in x's contiguous element layout. */
static fr_t *make_view(struct fr_ctx *ctx, fr_t *x, int ndim, const int64_t *ne, const size_t *nb,
                       size_t off_bytes, const int64_t *gstride, int64_t goff) {
    fr_t *v = fr_ctx_alloc(ctx, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->dtype = x->dtype;
    v->ndim = ndim;
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        v->ne[d] = d < ndim ? ne[d] : 1;
        v->nb[d] = nb[d];
        v->ip[d] = (int32_t)gstride[d];
    }
    v->ip[4] = (int32_t)goff;
    v->data = (char *)x->data + off_bytes;
    v->op = FR_OP_VIEW;
    v->src[0] = x;
    v->requires_grad = x->requires_grad && fr_grad_enabled(ctx);
    return fr_op_record(ctx, v);
}

static void contiguous_elem_strides(const fr_t *x, int64_t *st) {
    int64_t s = 1;
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        st[d] = s;
        s *= x->ne[d];
    }
}

fr_t *fr_contiguous(struct fr_ctx *ctx, fr_t *x) {
    if (!x) return NULL;
    if (fr_is_contiguous(x)) return x;
    if (fr_op_check_float("contiguous", x, NULL, NULL)) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_CONTIGUOUS, x->dtype, x->ndim, x->ne, x, NULL, NULL, NULL);
    return fr_op_run(ctx, out);
}

fr_t *fr_reshape(struct fr_ctx *ctx, fr_t *x, int ndim, const int64_t *ne) {
    if (!x) return NULL;
    if (ndim < 1 || ndim > FR_MAX_DIMS) {
        fr_error(FR_EINVAL, "reshape: ndim %d not in 1..4", ndim);
        return NULL;
    }
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (ne[d] < 0) {
            fr_error(FR_EINVAL, "reshape: negative size %lld", (long long)ne[d]);
            return NULL;
        }
        n *= ne[d];
    }
    if (n != fr_nelem(x)) {
        char s[64];
        fr_error(FR_EINVAL, "reshape: %s has %lld elements, new shape has %lld",
                 fr_shape_str(x, s, sizeof s), (long long)fr_nelem(x), (long long)n);
        return NULL;
    }
    x = fr_contiguous(ctx, x);
    if (!x) return NULL;
    fr_t tmp;
    memset(&tmp, 0, sizeof tmp);
    fr_tensor_set_shape(&tmp, x->dtype, ndim, ne);
    int64_t st[4];
    contiguous_elem_strides(&tmp, st);
    return make_view(ctx, x, ndim, tmp.ne, tmp.nb, 0, st, 0);
}

fr_t *fr_reshape2(struct fr_ctx *ctx, fr_t *x, int64_t n0, int64_t n1) {
    return fr_reshape(ctx, x, 2, (int64_t[]){n0, n1});
}

fr_t *fr_permute(struct fr_ctx *ctx, fr_t *x, const int *axes) {
    if (!x) return NULL;
    int seen[FR_MAX_DIMS] = {0};
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        if (axes[d] < 0 || axes[d] >= FR_MAX_DIMS || seen[axes[d]]++) {
            fr_error(FR_EINVAL, "permute: axes are not a permutation of 0..3");
            return NULL;
        }
    }
    int64_t ne[4], st[4], cst[4];
    size_t nb[4];
    contiguous_elem_strides(x, cst);
    int ndim = 1;
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        ne[d] = x->ne[axes[d]];
        nb[d] = x->nb[axes[d]];
        st[d] = cst[axes[d]];
        if (ne[d] != 1) ndim = d + 1;
    }
    if (ndim < x->ndim) ndim = x->ndim;
    return make_view(ctx, x, ndim, ne, nb, 0, st, 0);
}

fr_t *fr_transpose(struct fr_ctx *ctx, fr_t *x, int d0, int d1) {
    if (!x) return NULL;
    if (d0 < 0 || d0 >= FR_MAX_DIMS || d1 < 0 || d1 >= FR_MAX_DIMS) {
        fr_error(FR_EINVAL, "transpose: dims %d, %d not in 0..3", d0, d1);
        return NULL;
    }
    int axes[4] = {0, 1, 2, 3};
    axes[d0] = d1;
    axes[d1] = d0;
    return fr_permute(ctx, x, axes);
}

fr_t *fr_slice(struct fr_ctx *ctx, fr_t *x, int dim, int64_t start, int64_t len) {
    if (!x) return NULL;
    if (dim < 0 || dim >= FR_MAX_DIMS || start < 0 || len < 0 || start + len > x->ne[dim]) {
        fr_error(FR_EINVAL, "slice: [%lld, %lld) out of range for dim %d", (long long)start,
                 (long long)(start + len), dim);
        return NULL;
    }
    int64_t ne[4], st[4];
    contiguous_elem_strides(x, st);
    memcpy(ne, x->ne, sizeof ne);
    ne[dim] = len;
    return make_view(ctx, x, x->ndim, ne, x->nb, (size_t)start * x->nb[dim], st, start * st[dim]);
}

fr_t *fr_expand(struct fr_ctx *ctx, fr_t *x, int ndim, const int64_t *ne) {
    if (!x) return NULL;
    if (ndim < 1 || ndim > FR_MAX_DIMS || ndim < x->ndim) {
        fr_error(FR_EINVAL, "expand: bad ndim %d", ndim);
        return NULL;
    }
    int64_t full[4], st[4], cst[4];
    size_t nb[4];
    contiguous_elem_strides(x, cst);
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        full[d] = d < ndim ? ne[d] : 1;
        if (x->ne[d] != full[d] && x->ne[d] != 1) {
            char s[64];
            fr_error(FR_EINVAL, "expand: %s cannot broadcast to size %lld in dim %d",
                     fr_shape_str(x, s, sizeof s), (long long)full[d], d);
            return NULL;
        }
        int bc = x->ne[d] == 1 && full[d] != 1;
        nb[d] = bc ? 0 : x->nb[d];
        st[d] = bc ? 0 : cst[d];
    }
    return make_view(ctx, x, ndim, full, nb, 0, st, 0);
}

fr_t *fr_concat(struct fr_ctx *ctx, fr_t *a, fr_t *b, int dim) {
    if (!a || !b) return NULL;
    if (fr_op_check_float("concat", a, b, NULL)) return NULL;
    if (dim < 0 || dim >= FR_MAX_DIMS) {
        fr_error(FR_EINVAL, "concat: dim %d not in 0..3", dim);
        return NULL;
    }
    int64_t ne[4];
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        if (d != dim && a->ne[d] != b->ne[d]) {
            char s1[64], s2[64];
            fr_error(FR_EINVAL, "concat: shapes %s and %s differ outside dim %d",
                     fr_shape_str(a, s1, sizeof s1), fr_shape_str(b, s2, sizeof s2), dim);
            return NULL;
        }
        ne[d] = d == dim ? a->ne[d] + b->ne[d] : a->ne[d];
    }
    int ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    if (dim + 1 > ndim) ndim = dim + 1;
    fr_t *out = fr_op_new(ctx, FR_OP_CONCAT, a->dtype, ndim, ne, a, b, NULL, NULL);
    if (!out) return NULL;
    out->ip[0] = dim;
    return fr_op_run(ctx, out);
}

#endif
