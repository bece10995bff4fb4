/* tape.c: the autograd tape: recording op outputs in the context (the
 * storage is core's, see src/core/ctx.h), the op tables built from ops.def
 * (forward and backward, f32 and the f64 reference) and fr_backward, which
 * walks the tape in reverse. Nothing here knows a particular op.
 */
#include "op.h"

#include "../core/ctx.h"

#include <stdint.h>
#include <stdlib.h>

struct fr_tensor *fr_op_record(struct fr_ctx *ctx, struct fr_tensor *out) {
    if (!out || !out->requires_grad) return out;
    return fr_ctx_tape_push(ctx, out) ? NULL : out;
}

static const fr_op_fn FWD[2][FR_OP_COUNT] = {
    {
        [FR_OP_NONE] = NULL,
#define FR_OP(E, n) [FR_OP_##E] = fr_op_##n##_forward_f32,
#include "ops.def"
#undef FR_OP
    },
    {
        [FR_OP_NONE] = NULL,
#define FR_OP(E, n) [FR_OP_##E] = fr_op_##n##_forward_f64,
#include "ops.def"
#undef FR_OP
    },
};

static const fr_op_fn BWD[2][FR_OP_COUNT] = {
    {
        [FR_OP_NONE] = NULL,
#define FR_OP(E, n) [FR_OP_##E] = fr_op_##n##_backward_f32,
#include "ops.def"
#undef FR_OP
    },
    {
        [FR_OP_NONE] = NULL,
#define FR_OP(E, n) [FR_OP_##E] = fr_op_##n##_backward_f64,
#include "ops.def"
#undef FR_OP
    },
};

static const char *const OPNAME[FR_OP_COUNT] = {
    [FR_OP_NONE] = "leaf",
#define FR_OP(E, n) [FR_OP_##E] = #n,
#include "ops.def"
#undef FR_OP
};

const char *fr_op_kind(const struct fr_tensor *t) {
    return !t || t->op == FR_OP_NONE ? "leaf" : fr_op_name(t->op);
}

const char *fr_op_name(int op) {
    return op >= 0 && op < FR_OP_COUNT ? OPNAME[op] : "?";
}

struct fr_tensor *fr_op_new(struct fr_ctx *ctx, int op, enum fr_dtype dt, int ndim,
                            const int64_t *ne, struct fr_tensor *s0, struct fr_tensor *s1,
                            struct fr_tensor *s2, struct fr_tensor *s3) {
    struct fr_tensor *t = fr_new(ctx, dt, ndim, ne);
    if (!t) return NULL;
    t->op = op;
    t->src[0] = s0;
    t->src[1] = s1;
    t->src[2] = s2;
    t->src[3] = s3;
    if (fr_grad_enabled(ctx))
        for (int i = 0; i < FR_MAX_SRC; i++)
            if (t->src[i] && t->src[i]->requires_grad) t->requires_grad = 1;
    return t;
}

struct fr_tensor *fr_op_run(struct fr_ctx *ctx, struct fr_tensor *out) {
    if (!out) return NULL;
    FWD[out->dtype == FR_F64][out->op](ctx, out);
    fr_ctx_observe(ctx, out);
    return fr_op_record(ctx, out);
}

struct fr_tensor *fr_op_grad(struct fr_ctx *ctx, struct fr_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        t->grad = fr_zeros(ctx, t->dtype, t->ndim, t->ne);
        if (!t->grad) return NULL;
    }
    return t->grad;
}

struct fr_tensor *fr_op_grad_fresh(struct fr_ctx *ctx, struct fr_tensor *t, int *fresh) {
    *fresh = 0;
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        t->grad = fr_new(ctx, t->dtype, t->ndim, t->ne); /* not zeroed: written whole */
        if (!t->grad) return NULL;
        *fresh = 1;
    }
    return t->grad;
}

/* A leaf needing grad and the tape index of the first op that reads it:
 * walking the tape in reverse, its gradient is final once that op's
 * backward has run. */
struct final_at {
    struct fr_tensor *leaf;
    size_t at;
};

static int is_grad_leaf(const struct fr_tensor *t) {
    return t && t->op == FR_OP_NONE && t->requires_grad;
}

/* The leaves read by the tape in the order their gradients become final
 * (first reader descending), through an open-addressing set of pointers.
 * Returns the count, or -1 when out of memory (*out NULL). */
static long long finals(struct fr_tensor *const *tape, size_t n, struct final_at **out) {
    *out = NULL;
    size_t cap = 16;
    while (cap < 2 * FR_MAX_SRC * n + 16)
        cap <<= 1;
    struct fr_tensor **set = calloc(cap, sizeof *set);
    struct final_at *f = malloc((FR_MAX_SRC * n + 1) * sizeof *f);
    if (!set || !f) {
        free(set);
        free(f);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < FR_MAX_SRC; s++) {
            struct fr_tensor *l = tape[i]->src[s];
            if (!is_grad_leaf(l)) continue;
            size_t h = ((uintptr_t)l >> 4) * 0x9E3779B97F4A7C15ull & (cap - 1);
            while (set[h] && set[h] != l)
                h = (h + 1) & (cap - 1);
            if (set[h]) continue;
            set[h] = l;
            f[k++] = (struct final_at){l, i};
        }
    free(set);
    *out = f;
    return (long long)k;
}

int fr_backward_ready(struct fr_ctx *ctx, struct fr_tensor *loss, fr_grad_ready_fn ready,
                      void *user) {
    if (!loss) return fr_error(FR_EINVAL, "backward: loss is NULL");
    if (fr_nelem(loss) != 1)
        return fr_error(FR_EINVAL, "backward: loss must have one element, has %lld",
                        (long long)fr_nelem(loss));
    if (!loss->requires_grad)
        return fr_error(FR_EINVAL, "backward: loss does not depend on any tensor needing grad");
    struct fr_tensor *g = fr_op_grad(ctx, loss);
    if (!g) return FR_ENOMEM;
    fr_set(g, 0, fr_get(g, 0) + 1.0);
    size_t n;
    struct fr_tensor *const *tape = fr_ctx_tape(ctx, &n);
    struct final_at *f = NULL;
    long long nf = 0;
    if (ready && (nf = finals(tape, n, &f)) < 0)
        nf = 0; /* no reports: the caller's end handles all */
    for (size_t i = n; i-- > 0;) {
        struct fr_tensor *t = tape[i];
        if (t->grad && t->op != FR_OP_NONE) BWD[t->dtype == FR_F64][t->op](ctx, t);
        for (; nf > 0 && f[nf - 1].at == i; nf--)
            if (f[nf - 1].leaf->grad) ready(user, f[nf - 1].leaf);
    }
    free(f);
    return 0;
}

int fr_backward(struct fr_ctx *ctx, struct fr_tensor *loss) {
    return fr_backward_ready(ctx, loss, NULL, NULL);
}
