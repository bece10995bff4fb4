/* tensor.c: dtypes, shapes, standalone tensors, and the per-step context
 * (arena + tape + modes).
 *
 * The arena is a list of chunks handed out by bumping an offset; reset keeps
 * the memory, and if a step needed more than one chunk they are merged into
 * one big chunk so the next step allocates nothing. The tape is a growable
 * array of op outputs in creation order.
 */
#include "frugal/tensor.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

static const struct {
    const char *name;
    size_t size;
} DT[FR_NDTYPES] = {
    [FR_F32] = {"F32", 4}, [FR_F64] = {"F64", 8}, [FR_F16] = {"F16", 2}, [FR_BF16] = {"BF16", 2},
    [FR_I32] = {"I32", 4}, [FR_I64] = {"I64", 8}, [FR_U8] = {"U8", 1},   [FR_I8] = {"I8", 1},
};

size_t fr_dtype_size(enum fr_dtype t) {
    return (unsigned)t < FR_NDTYPES ? DT[t].size : 0;
}

const char *fr_dtype_name(enum fr_dtype t) {
    return (unsigned)t < FR_NDTYPES ? DT[t].name : "?";
}

int fr_dtype_parse(const char *s) {
    for (int i = 0; i < FR_NDTYPES; i++)
        if (strcmp(s, DT[i].name) == 0) return i;
    return -1;
}

int64_t fr_nelem(const struct fr_tensor *t) {
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

size_t fr_nbytes(const struct fr_tensor *t) {
    return (size_t)fr_nelem(t) * fr_dtype_size(t->dtype);
}

int fr_is_contiguous(const struct fr_tensor *t) {
    size_t s = fr_dtype_size(t->dtype);
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        if (t->ne[d] != 1 && t->nb[d] != s) return 0;
        s *= (size_t)t->ne[d];
    }
    return 1;
}

int fr_same_shape(const struct fr_tensor *a, const struct fr_tensor *b) {
    for (int d = 0; d < FR_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return 0;
    return 1;
}

const char *fr_shape_str(const struct fr_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (int d = t->ndim - 1; d >= 0 && k < n; d--)
        k += (size_t)snprintf(buf + k, n - k, "%lld%s", (long long)t->ne[d], d ? ", " : "");
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

void fr_tensor_set_shape(struct fr_tensor *t, enum fr_dtype dt, int ndim, const int64_t *ne) {
    t->dtype = dt;
    t->ndim = ndim;
    size_t s = fr_dtype_size(dt);
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        t->ne[d] = d < ndim ? ne[d] : 1;
        t->nb[d] = s;
        s *= (size_t)t->ne[d];
    }
}

static int shape_ok(int ndim, const int64_t *ne) {
    if (ndim < 1 || ndim > FR_MAX_DIMS) return fr_error(FR_EINVAL, "ndim %d not in 1..4", ndim);
    for (int d = 0; d < ndim; d++)
        if (ne[d] < 0 || ne[d] > ((int64_t)1 << 40))
            return fr_error(FR_EINVAL, "dimension %d has invalid size %lld", d, (long long)ne[d]);
    return 0;
}

struct fr_tensor *fr_tensor_new(enum fr_dtype dt, int ndim, const int64_t *ne) {
    if (shape_ok(ndim, ne)) return NULL;
    struct fr_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    fr_tensor_set_shape(t, dt, ndim, ne);
    size_t bytes = (fr_nbytes(t) + 63) & ~(size_t)63;
    t->data = aligned_alloc(64, bytes ? bytes : 64);
    if (!t->data) {
        free(t);
        fr_error(FR_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(t->data, 0, bytes);
    return t;
}

void fr_tensor_free(struct fr_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t);
}

static size_t flat_offset(const struct fr_tensor *t, int64_t i) {
    int64_t i0 = i % t->ne[0];
    i /= t->ne[0];
    int64_t i1 = i % t->ne[1];
    i /= t->ne[1];
    int64_t i2 = i % t->ne[2];
    int64_t i3 = i / t->ne[2];
    return fr_offset(t, i0, i1, i2, i3);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double fr_get(const struct fr_tensor *t, int64_t i) {
    const char *p = (const char *)t->data + flat_offset(t, i);
    switch (t->dtype) {
    case FR_F32:
        return *(const float *)p;
    case FR_F64:
        return *(const double *)p;
    case FR_F16:
        return (double)*(const _Float16 *)p;
    case FR_BF16:
        return bf16_to_f32(*(const uint16_t *)p);
    case FR_I32:
        return *(const int32_t *)p;
    case FR_I64:
        return (double)*(const int64_t *)p;
    case FR_U8:
        return *(const uint8_t *)p;
    case FR_I8:
        return *(const int8_t *)p;
    default:
        return 0;
    }
}

void fr_set(struct fr_tensor *t, int64_t i, double v) {
    char *p = (char *)t->data + flat_offset(t, i);
    switch (t->dtype) {
    case FR_F32:
        *(float *)p = (float)v;
        break;
    case FR_F64:
        *(double *)p = v;
        break;
    case FR_F16:
        *(_Float16 *)p = (_Float16)v;
        break;
    case FR_BF16: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
        *(uint16_t *)p = (uint16_t)(u >> 16);
        break;
    }
    case FR_I32:
        *(int32_t *)p = (int32_t)v;
        break;
    case FR_I64:
        *(int64_t *)p = (int64_t)v;
        break;
    case FR_U8:
        *(uint8_t *)p = (uint8_t)v;
        break;
    case FR_I8:
        *(int8_t *)p = (int8_t)v;
        break;
    default:
        break;
    }
}

/* ---------------- context ---------------- */

struct chunk {
    struct chunk *next;
    size_t size, used;
    char *mem;
};

struct fr_ctx {
    struct chunk *chunks; /* newest first */
    size_t used, peak, total;
    struct fr_tensor **tape;
    size_t ntape, captape;
    int grad_on;
    int training;
    int64_t shard_lo, shard_total; /* fr_ctx_set_shard */
    fr_reduce_fn reduce;           /* fr_ctx_set_reduce */
    void *reduce_user;
    fr_observer_fn observer; /* fr_ctx_set_observer */
    void *observer_user;
    fr_gate_fn gate; /* fr_ctx_set_relu_gate */
    void *gate_user;
};

static struct chunk *chunk_new(size_t size) {
    struct chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = aligned_alloc(64, size);
    if (!c->mem) {
        free(c);
        return NULL;
    }
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

struct fr_ctx *fr_ctx_new(size_t arena_bytes) {
    struct fr_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    if (arena_bytes < 1 << 20) arena_bytes = 1 << 20;
    arena_bytes = (arena_bytes + 63) & ~(size_t)63;
    ctx->chunks = chunk_new(arena_bytes);
    if (!ctx->chunks) {
        free(ctx);
        fr_error(FR_ENOMEM, "out of memory creating a %zu-byte arena", arena_bytes);
        return NULL;
    }
    ctx->total = arena_bytes;
    ctx->grad_on = 1;
    ctx->training = 1;
    return ctx;
}

void fr_ctx_free(struct fr_ctx *ctx) {
    if (!ctx) return;
    for (struct chunk *c = ctx->chunks, *n; c; c = n) {
        n = c->next;
        free(c->mem);
        free(c);
    }
    free(ctx->tape);
    free(ctx);
}

void fr_ctx_reset(struct fr_ctx *ctx) {
    if (ctx->chunks && ctx->chunks->next) {
        /* merge: free all, allocate one chunk of the total size */
        size_t total = 0;
        for (struct chunk *c = ctx->chunks, *n; c; c = n) {
            n = c->next;
            total += c->size;
            free(c->mem);
            free(c);
        }
        ctx->chunks = chunk_new(total);
        ctx->total = ctx->chunks ? total : 0;
    }
    if (ctx->chunks) ctx->chunks->used = 0;
    ctx->used = 0;
    ctx->ntape = 0;
}

size_t fr_ctx_used(const struct fr_ctx *ctx) {
    return ctx->used;
}

size_t fr_ctx_peak(const struct fr_ctx *ctx) {
    return ctx->peak;
}

void *fr_ctx_alloc(struct fr_ctx *ctx, size_t bytes) {
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes == 0) bytes = 64;
    struct chunk *c = ctx->chunks;
    if (!c || c->used + bytes > c->size) {
        size_t sz = ctx->total > bytes * 2 ? ctx->total : bytes * 2;
        struct chunk *n = chunk_new(sz);
        if (!n) {
            fr_error(FR_ENOMEM, "out of memory: arena needs %zu more bytes", bytes);
            return NULL;
        }
        n->next = c;
        ctx->chunks = c = n;
        ctx->total += sz;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    ctx->used += bytes;
    if (ctx->used > ctx->peak) ctx->peak = ctx->used;
    return p;
}

struct fr_tensor *fr_new(struct fr_ctx *ctx, enum fr_dtype dt, int ndim, const int64_t *ne) {
    if (shape_ok(ndim, ne)) return NULL;
    struct fr_tensor *t = fr_ctx_alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    fr_tensor_set_shape(t, dt, ndim, ne);
    t->data = fr_ctx_alloc(ctx, fr_nbytes(t));
    return t->data ? t : NULL;
}

struct fr_tensor *fr_zeros(struct fr_ctx *ctx, enum fr_dtype dt, int ndim, const int64_t *ne) {
    struct fr_tensor *t = fr_new(ctx, dt, ndim, ne);
    if (t) memset(t->data, 0, fr_nbytes(t));
    return t;
}

struct fr_tensor *fr_new1(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0) {
    return fr_new(ctx, dt, 1, (int64_t[]){n0});
}
struct fr_tensor *fr_new2(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0, int64_t n1) {
    return fr_new(ctx, dt, 2, (int64_t[]){n0, n1});
}
struct fr_tensor *fr_new3(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0, int64_t n1,
                          int64_t n2) {
    return fr_new(ctx, dt, 3, (int64_t[]){n0, n1, n2});
}
struct fr_tensor *fr_new4(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0, int64_t n1, int64_t n2,
                          int64_t n3) {
    return fr_new(ctx, dt, 4, (int64_t[]){n0, n1, n2, n3});
}

struct fr_tensor *fr_wrap(struct fr_ctx *ctx, enum fr_dtype dt, int ndim, const int64_t *ne,
                          void *data) {
    if (shape_ok(ndim, ne)) return NULL;
    struct fr_tensor *t = fr_ctx_alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    fr_tensor_set_shape(t, dt, ndim, ne);
    t->data = data;
    return t;
}

int fr_no_grad_begin(struct fr_ctx *ctx) {
    int prev = ctx->grad_on;
    ctx->grad_on = 0;
    return prev;
}

void fr_no_grad_end(struct fr_ctx *ctx, int prev) {
    ctx->grad_on = prev;
}

int fr_grad_enabled(const struct fr_ctx *ctx) {
    return ctx->grad_on;
}

void fr_set_training(struct fr_ctx *ctx, int on) {
    ctx->training = on;
}

int fr_is_training(const struct fr_ctx *ctx) {
    return ctx->training;
}

void fr_ctx_set_shard(struct fr_ctx *ctx, int64_t lo, int64_t total) {
    ctx->shard_lo = total > 0 ? lo : 0;
    ctx->shard_total = total > 0 ? total : 0;
}

int64_t fr_ctx_shard(const struct fr_ctx *ctx, int64_t *total) {
    if (total) *total = ctx->shard_total;
    return ctx->shard_lo;
}

void fr_ctx_set_reduce(struct fr_ctx *ctx, fr_reduce_fn fn, void *user) {
    ctx->reduce = fn;
    ctx->reduce_user = user;
}

int fr_ctx_reduce(const struct fr_ctx *ctx, double *x, int64_t n) {
    return ctx->reduce ? ctx->reduce(ctx->reduce_user, x, n) : 0;
}

int fr_ctx_has_reduce(const struct fr_ctx *ctx) {
    return ctx->reduce != NULL;
}

void fr_ctx_set_observer(struct fr_ctx *ctx, fr_observer_fn fn, void *user) {
    ctx->observer = fn;
    ctx->observer_user = user;
}

void fr_ctx_observe(struct fr_ctx *ctx, struct fr_tensor *out) {
    if (ctx->observer && out) ctx->observer(ctx->observer_user, out);
}

void fr_ctx_set_relu_gate(struct fr_ctx *ctx, fr_gate_fn fn, void *user) {
    ctx->gate = fn;
    ctx->gate_user = user;
}

struct fr_tensor *fr_ctx_relu_gate(struct fr_ctx *ctx, struct fr_tensor *x) {
    return ctx->gate ? ctx->gate(ctx->gate_user, ctx, x) : NULL;
}

/* ---------------- tape storage (the autograd layer records and walks it) ---------------- */

int fr_ctx_tape_push(struct fr_ctx *ctx, struct fr_tensor *t) {
    if (ctx->ntape == ctx->captape) {
        size_t cap = ctx->captape ? ctx->captape * 2 : 1024;
        struct fr_tensor **nt = realloc(ctx->tape, cap * sizeof *nt);
        if (!nt) return fr_error(FR_ENOMEM, "out of memory growing the tape");
        ctx->tape = nt;
        ctx->captape = cap;
    }
    ctx->tape[ctx->ntape++] = t;
    return 0;
}

struct fr_tensor *const *fr_ctx_tape(const struct fr_ctx *ctx, size_t *n) {
    *n = ctx->ntape;
    return ctx->tape;
}
