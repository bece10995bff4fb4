/* op_dropout.c: inverted dropout.
 *
 * In training mode with p > 0 the constructor draws a keep mask (one byte
 * per element, in aux) and the op computes y = x * mask / (1 - p); the
 * backward reuses the same mask: dx += g * mask / (1 - p). In eval mode or
 * with p == 0 the call returns x itself (no copy, nothing recorded).
 *
 * The mask depends only on the rng state and the element count, never on
 * the thread count: the call advances rng by one draw, which seeds an
 * independent stream per block of 4096 elements (so blocks can be drawn in
 * parallel). Each 64-bit draw gives two 32-bit uniforms compared with
 * p * 2^32. When the context computes a slice of a global batch
 * (fr_ctx_set_shard: samples lo.. of the last dimension), the mask is that
 * slice's part of the whole batch's mask: a block is entered at the
 * slice's first element by drawing past the ones before it.
 */
#include "../kernels/vec_math.h"
#include "op.h"

#define DROP_BLOCK 4096

#ifdef FR_PRIMARY
/* The mask of elements [off, off + n) of a stream over the whole batch
 * (off > 0: this context computes a slice of it, fr_ctx_set_shard). */
struct mask_job {
    uint8_t *m;
    int64_t n, off;
    uint64_t seed, thr;
};

static void mask_blocks(void *vp, int64_t b0, int64_t b1, int tid) {
    (void)tid;
    const struct mask_job *j = vp;
    int64_t first = j->off / DROP_BLOCK;
    for (int64_t b = first + b0; b < first + b1; b++) {
        struct fr_rng r;
        fr_rng_seed(&r, j->seed ^ ((uint64_t)b * 0x9e3779b97f4a7c15ULL));
        /* global elements [i, e) of block b that fall in [off, off + n) */
        int64_t i = b * DROP_BLOCK, e = i + DROP_BLOCK;
        if (e > j->off + j->n) e = j->off + j->n;
        for (; i + 2 <= j->off; i += 2) /* draws of elements before the slice */
            fr_rng_u64(&r);
        for (; i < e; i += 2) {
            uint64_t u = fr_rng_u64(&r);
            if (i >= j->off) j->m[i - j->off] = (u & 0xffffffffu) >= j->thr;
            if (i + 1 < e && i + 1 >= j->off) j->m[i + 1 - j->off] = (u >> 32) >= j->thr;
        }
    }
}
#endif

/* y[j] = x[j] * (m[j] ? s : 0) with x read through strides (or dense), and
 * the backward's dx[j] += g[j] * (m[j] ? s : 0). */
static void FR_FN(apply_mask)(const fr_t *x, const real *g, const uint8_t *m, real s, real *y) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && (g || fr_is_contiguous(x))) {
        fr_vec_mask_scale(fr_nelem(x), g ? g : x->data, m, s, y, g != NULL);
        return;
    }
#endif
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < x->ne[0]; i0++, j++) {
                    real k = m[j] ? s : (real)0;
                    if (g)
                        y[j] += g[j] * k;
                    else
                        y[j] = *(const real *)FR_AT(x->data, x->nb, i0, i1, i2, i3) * k;
                }
}

void FR_FN(fr_op_dropout_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
    FR_FN(apply_mask)(out->src[0], NULL, out->aux, (real)(1.0 / (1.0 - out->fp[0])), out->data);
}

void FR_FN(fr_op_dropout_backward)(struct fr_ctx *ctx, fr_t *out) {
    fr_t *gx = fr_op_grad(ctx, out->src[0]);
    if (!gx) return;
    FR_FN(apply_mask)
    (out->src[0], out->grad->data, out->aux, (real)(1.0 / (1.0 - out->fp[0])), gx->data);
}

#ifdef FR_PRIMARY
/* x float (any strides); 0 <= p < 1; rng required when training with
 * p > 0. Returns x itself in eval mode or when p == 0. */
fr_t *fr_dropout(struct fr_ctx *ctx, fr_t *x, float p, struct fr_rng *rng) {
    if (!x) return NULL;
    if (fr_op_check_float("dropout", x, NULL, NULL)) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) {
        fr_error(FR_EINVAL, "dropout: p %g not in [0, 1)", (double)p);
        return NULL;
    }
    if (!fr_is_training(ctx) || p == 0.0f) return x;
    if (!rng) {
        fr_error(FR_EINVAL, "dropout: training mode needs an rng");
        return NULL;
    }
    fr_t *out = fr_op_new(ctx, FR_OP_DROPOUT, x->dtype, x->ndim, x->ne, x, NULL, NULL, NULL);
    if (!out) return NULL;
    int64_t n = fr_nelem(x);
    uint8_t *m = fr_ctx_alloc(ctx, (size_t)n + 1);
    if (!m) return NULL;
    /* a slice of a global batch (data parallel): the elements it holds of
     * the whole batch's mask, so the result does not depend on the slicing */
    int64_t total, lo = fr_ctx_shard(ctx, &total), off = 0;
    int64_t ns = x->ne[x->ndim - 1];
    if (total > 0 && ns > 0 && lo + ns <= total) off = lo * (n / ns);
    struct mask_job j = {m, n, off, fr_rng_u64(rng), (uint64_t)((double)p * 4294967296.0)};
    int64_t nb = (off + n + DROP_BLOCK - 1) / DROP_BLOCK - off / DROP_BLOCK;
    fr_parallel_for(nb, 16, mask_blocks, &j);
    out->aux = m;
    out->fp[0] = p;
    return fr_op_run(ctx, out);
}
#endif
