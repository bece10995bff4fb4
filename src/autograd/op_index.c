/* op_index.c: embedding, gather and scatter_add: whole rows (dim 0, length
 * D) moved by an I32 index.
 *
 * The constructor reads the index (any strides), checks every entry is in
 * range, and keeps a flat int32 copy in aux, so forward and backward never
 * see a bad index. Two row movers do all the work:
 *   gather:  dst[:, e]      (+)= src[:, id[e]]   (embedding, gather fwd;
 *                                                 scatter_add bwd)
 *   scatter: dst[:, id[e]]  +=  src[:, e]        (embedding, gather bwd;
 *                                                 scatter_add fwd)
 * src is read through its strides (a weight may be a view); dst is
 * contiguous. The f32 fast path moves dense rows with memcpy / fr_vec_acc;
 * gathers split over index entries, scatters over column ranges (repeated
 * ids never race, and sums do not depend on the thread count).
 */
#include "../kernels/vec.h"
#include "op.h"

/* A {D, *} source read through byte strides s0 (within a row), s1 (rows). */
struct rows_src {
    const char *base;
    size_t s0, s1;
};

static void FR_FN(gather_ref)(real *dst, int64_t d, struct rows_src s, const int32_t *id, int64_t e,
                              int acc) {
    for (int64_t k = 0; k < e; k++)
        for (int64_t i = 0; i < d; i++) {
            real v = *(const real *)(s.base + (size_t)i * s.s0 + (size_t)id[k] * s.s1);
            dst[k * d + i] = acc ? dst[k * d + i] + v : v;
        }
}

static void FR_FN(scatter_ref)(real *dst, int64_t d, struct rows_src s, const int32_t *id,
                               int64_t e) {
    for (int64_t k = 0; k < e; k++)
        for (int64_t i = 0; i < d; i++)
            dst[id[k] * d + i] += *(const real *)(s.base + (size_t)i * s.s0 + (size_t)k * s.s1);
}

#ifdef FR_PRIMARY
struct ijob {
    float *dst;
    int64_t d;
    struct rows_src s;
    const int32_t *id;
    int64_t e;
    int acc;
};

static void gather_task(void *vp, int64_t k0, int64_t k1, int tid) {
    (void)tid;
    const struct ijob *j = vp;
    for (int64_t k = k0; k < k1; k++) {
        const float *row = (const float *)(j->s.base + (size_t)j->id[k] * j->s.s1);
        if (j->acc)
            fr_vec_acc(j->d, row, j->dst + k * j->d);
        else
            memcpy(j->dst + k * j->d, row, (size_t)j->d * sizeof(float));
    }
}

static void scatter_task(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    const struct ijob *j = vp;
    for (int64_t k = 0; k < j->e; k++)
        fr_vec_acc(c1 - c0, (const float *)(j->s.base + (size_t)k * j->s.s1) + c0,
                   j->dst + j->id[k] * j->d + c0);
}
#endif

static void FR_FN(gather)(real *dst, int64_t d, struct rows_src s, const int32_t *id, int64_t e,
                          int acc) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && s.s0 == sizeof(float)) {
        struct ijob j = {dst, d, s, id, e, acc};
        fr_parallel_for(e, 32768 / (d + 1) + 1, gather_task, &j);
        return;
    }
#endif
    FR_FN(gather_ref)(dst, d, s, id, e, acc);
}

static void FR_FN(scatter)(real *dst, int64_t d, struct rows_src s, const int32_t *id, int64_t e) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && s.s0 == sizeof(float)) {
        struct ijob j = {dst, d, s, id, e, 1};
        fr_parallel_for(d, e * d >= 65536 ? 64 : d, scatter_task, &j);
        return;
    }
#endif
    FR_FN(scatter_ref)(dst, d, s, id, e);
}

/* src of a tensor {D, ...} whose rows are indexed through dim 1 only */
static struct rows_src src_of(const fr_t *t) {
    struct rows_src s = {t->data, t->nb[0], t->nb[1]};
    return s;
}
/* the contiguous grad of out, viewed as D x (elements / D) */
static struct rows_src grad_src(const fr_t *out) {
    struct rows_src s = {out->grad->data, sizeof(real), sizeof(real) * (size_t)out->ne[0]};
    return s;
}

/* embedding and gather: src[0] is the table {D, V}, aux the ids */
static void FR_FN(take_forward)(fr_t *out) {
    FR_FN(gather)
    (out->data, out->ne[0], src_of(out->src[0]), out->aux, fr_nelem(out) / out->ne[0], 0);
}
static void FR_FN(take_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *gw = fr_op_grad(ctx, out->src[0]);
    if (!gw) return;
    FR_FN(scatter)(gw->data, out->ne[0], grad_src(out), out->aux, fr_nelem(out) / out->ne[0]);
}

void FR_FN(fr_op_embedding_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(take_forward)(out);
}
void FR_FN(fr_op_embedding_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(take_backward)(ctx, out);
}
void FR_FN(fr_op_gather_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(take_forward)(out);
}
void FR_FN(fr_op_gather_backward)(struct fr_ctx *ctx, fr_t *out) {
    FR_FN(take_backward)(ctx, out);
}

/* scatter_add: src[0] is {D, E}, aux the ids, out {D, n} */
void FR_FN(fr_op_scatter_add_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    const fr_t *src = out->src[0];
    memset(out->data, 0, fr_nbytes(out));
    FR_FN(scatter)(out->data, out->ne[0], src_of(src), out->aux, src->ne[1]);
}
void FR_FN(fr_op_scatter_add_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *gs = fr_op_grad(ctx, out->src[0]);
    if (!gs) return;
    FR_FN(gather)(gs->data, out->ne[0], grad_src(out), out->aux, gs->ne[1], 1);
}

#ifdef FR_PRIMARY
/* Flat int32 copy of idx in the arena with every entry checked in [0, n);
 * NULL + error otherwise. */
static int32_t *read_ids(struct fr_ctx *ctx, const char *who, const fr_t *idx, int64_t n) {
    if (idx->dtype != FR_I32) {
        fr_error(FR_EINVAL, "%s: index has dtype %s, expected I32", who, fr_dtype_name(idx->dtype));
        return NULL;
    }
    int32_t *id = fr_ctx_alloc(ctx, (size_t)fr_nelem(idx) * sizeof(int32_t) + 1);
    if (!id) return NULL;
    int64_t k = 0;
    for (int64_t i3 = 0; i3 < idx->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < idx->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < idx->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < idx->ne[0]; i0++, k++) {
                    int32_t v = *(const int32_t *)FR_AT(idx->data, idx->nb, i0, i1, i2, i3);
                    if (v < 0 || v >= n) {
                        fr_error(FR_EINVAL, "%s: index %d at position %lld out of range [0, %lld)",
                                 who, (int)v, (long long)k, (long long)n);
                        return NULL;
                    }
                    id[k] = v;
                }
    return id;
}

static int check_table(const char *who, const fr_t *t) {
    if (fr_op_check_float(who, (fr_t *)t, NULL, NULL)) return 1;
    if (t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] == 0) {
        char s[64];
        return fr_error(FR_EINVAL, "%s: table %s must be 2-d {D, rows} with D > 0", who,
                        fr_shape_str(t, s, sizeof s));
    }
    return 0;
}

/* weight {D, V} float, ids I32 of up to 3 dims -> {D, ids...}. An id
 * outside [0, V) gives NULL and an error naming it. */
fr_t *fr_embedding(struct fr_ctx *ctx, fr_t *weight, fr_t *ids) {
    if (!weight || !ids) return NULL;
    if (check_table("embedding", weight)) return NULL;
    if (ids->ne[3] != 1) {
        fr_error(FR_EINVAL, "embedding: ids have 4 dims; at most 3 are supported");
        return NULL;
    }
    int32_t *id = read_ids(ctx, "embedding", ids, weight->ne[1]);
    if (!id) return NULL;
    int64_t ne[4] = {weight->ne[0], ids->ne[0], ids->ne[1], ids->ne[2]};
    fr_t *out =
        fr_op_new(ctx, FR_OP_EMBEDDING, weight->dtype, ids->ndim + 1, ne, weight, NULL, NULL, NULL);
    if (!out) return NULL;
    out->aux = id;
    return fr_op_run(ctx, out);
}

/* x {D, N} float, idx I32 {E} with entries in [0, N) -> {D, E}. */
fr_t *fr_gather(struct fr_ctx *ctx, fr_t *x, fr_t *idx) {
    if (!x || !idx) return NULL;
    if (check_table("gather", x)) return NULL;
    if (idx->ne[1] != 1 || idx->ne[2] != 1 || idx->ne[3] != 1) {
        fr_error(FR_EINVAL, "gather: index must be 1-d");
        return NULL;
    }
    int32_t *id = read_ids(ctx, "gather", idx, x->ne[1]);
    if (!id) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_GATHER, x->dtype, 2, (int64_t[]){x->ne[0], idx->ne[0]}, x,
                          NULL, NULL, NULL);
    if (!out) return NULL;
    out->aux = id;
    return fr_op_run(ctx, out);
}

/* src {D, E} float, idx I32 {E} with entries in [0, n), n > 0 -> {D, n}
 * with out[:, idx[e]] summing src[:, e]. */
fr_t *fr_scatter_add(struct fr_ctx *ctx, fr_t *src, fr_t *idx, int64_t n) {
    if (!src || !idx) return NULL;
    if (check_table("scatter_add", src)) return NULL;
    if (n <= 0) {
        fr_error(FR_EINVAL, "scatter_add: output rows %lld must be > 0", (long long)n);
        return NULL;
    }
    if (idx->ne[0] != src->ne[1] || fr_nelem(idx) != src->ne[1]) {
        char s1[64], s2[64];
        fr_error(FR_EINVAL, "scatter_add: index %s must be 1-d with one entry per column of %s",
                 fr_shape_str(idx, s1, sizeof s1), fr_shape_str(src, s2, sizeof s2));
        return NULL;
    }
    int32_t *id = read_ids(ctx, "scatter_add", idx, n);
    if (!id) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_SCATTER_ADD, src->dtype, 2, (int64_t[]){src->ne[0], n}, src,
                          NULL, NULL, NULL);
    if (!out) return NULL;
    out->aux = id;
    return fr_op_run(ctx, out);
}
#endif
