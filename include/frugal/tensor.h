/* tensor.h: the tensor, its dtypes, and the per-step context that owns
 * activations and the autograd tape.
 *
 * Layout: up to 4 dims, ne[d] element counts and nb[d] byte strides, dim 0
 * innermost (ggml order). A row-major PyTorch tensor of shape (N, C, H, W) is
 * ne = {W, H, C, N}. A matrix with M rows and K columns is ne = {K, M}.
 * Dims past ndim have ne = 1. Views (reshape, permute, slice, expand) share
 * data and carry their own strides; an expanded (broadcast) dim has stride 0.
 *
 * Ownership: tensors made by ops live in a context's arena and die at
 * fr_ctx_reset(). Standalone tensors from fr_tensor_new() are owned by the
 * caller (fr_tensor_free). Parameters live in a slab (params.h).
 *
 * Gradients: a tensor's grad, when present, is a contiguous tensor of the
 * same logical shape and dtype (never a view), whatever the tensor's strides.
 */
#ifndef FRUGAL_TENSOR_H
#define FRUGAL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_MAX_DIMS 4
#define FR_MAX_SRC 4

enum fr_dtype { FR_F32 = 0, FR_F64, FR_F16, FR_BF16, FR_I32, FR_I64, FR_U8, FR_I8, FR_NDTYPES };

struct fr_ctx;

struct fr_tensor {
    enum fr_dtype dtype;
    int ndim;
    int64_t ne[FR_MAX_DIMS];
    size_t nb[FR_MAX_DIMS];
    void *data;

    /* autograd: the op that made this tensor and its inputs (leaves: op 0) */
    int op;
    struct fr_tensor *src[FR_MAX_SRC];
    int32_t ip[8]; /* integer op parameters */
    float fp[4];   /* float op parameters */
    void *aux;     /* op-private state saved for backward (arena memory) */
    struct fr_tensor *grad;
    int requires_grad;
    const char *name;
    /* A parameter's sparse copy for inference (kernels.h struct fr_csr,
     * borrowed; NULL: none): fr_conv2d uses it when recording no gradient. */
    const struct fr_csr *csr;
};

size_t fr_dtype_size(enum fr_dtype t);
const char *fr_dtype_name(enum fr_dtype t);
/* Parses "F32", "BF16", ... (safetensors spelling); returns -1 if unknown. */
int fr_dtype_parse(const char *s);
/* Index of the first NaN or infinity among n elements of dtype dt at data
 * (any alignment; f32, f64, f16 and bf16 are judged by their exponent bits,
 * integer dtypes are always finite), or -1 when all are finite. One
 * vectorisable pass over the bytes: a loader's cost to refuse bad weights. */
int64_t fr_first_nonfinite(const void *data, enum fr_dtype dt, int64_t n);

int64_t fr_nelem(const struct fr_tensor *t);
/* Bytes of a contiguous tensor of this shape. */
size_t fr_nbytes(const struct fr_tensor *t);
int fr_is_contiguous(const struct fr_tensor *t);
int fr_same_shape(const struct fr_tensor *a, const struct fr_tensor *b);
/* Writes "(2, 3, 4)" in PyTorch order (outermost first) into buf. */
const char *fr_shape_str(const struct fr_tensor *t, char *buf, size_t n);

/* Sets ne/nb of a contiguous tensor; ne given innermost first. */
void fr_tensor_set_shape(struct fr_tensor *t, enum fr_dtype dt, int ndim, const int64_t *ne);

/* Standalone tensor (malloc, 64-byte aligned data, zeroed). NULL on failure. */
struct fr_tensor *fr_tensor_new(enum fr_dtype dt, int ndim, const int64_t *ne);
void fr_tensor_free(struct fr_tensor *t);

/* Element access by flat logical index (any strides), as double. For tests,
 * loaders and small bookkeeping, not hot loops. */
double fr_get(const struct fr_tensor *t, int64_t i);
void fr_set(struct fr_tensor *t, int64_t i, double v);
/* Byte offset of logical element (i0,i1,i2,i3). */
static inline size_t fr_offset(const struct fr_tensor *t, int64_t i0, int64_t i1, int64_t i2,
                               int64_t i3) {
    return (size_t)i0 * t->nb[0] + (size_t)i1 * t->nb[1] + (size_t)i2 * t->nb[2] +
           (size_t)i3 * t->nb[3];
}

/* ---- context: arena for activations + autograd tape ---- */

/* Creates a context whose arena starts at arena_bytes (grows on demand). */
struct fr_ctx *fr_ctx_new(size_t arena_bytes);
void fr_ctx_free(struct fr_ctx *ctx);
/* Drops every tensor made in the context and the tape (call after the
 * optimizer step). Memory is kept for the next step. */
void fr_ctx_reset(struct fr_ctx *ctx);
/* Bytes in use now / at most since creation. */
size_t fr_ctx_used(const struct fr_ctx *ctx);
size_t fr_ctx_peak(const struct fr_ctx *ctx);

/* New contiguous tensor in the arena; data uninitialised (zeroed if zero). */
struct fr_tensor *fr_new(struct fr_ctx *ctx, enum fr_dtype dt, int ndim, const int64_t *ne);
struct fr_tensor *fr_zeros(struct fr_ctx *ctx, enum fr_dtype dt, int ndim, const int64_t *ne);
/* Convenience constructors (arena): fr_new2(ctx, FR_F32, K, M) is an MxK matrix. */
struct fr_tensor *fr_new1(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0);
struct fr_tensor *fr_new2(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0, int64_t n1);
struct fr_tensor *fr_new3(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0, int64_t n1, int64_t n2);
struct fr_tensor *fr_new4(struct fr_ctx *ctx, enum fr_dtype dt, int64_t n0, int64_t n1, int64_t n2,
                          int64_t n3);
/* A tensor header in the arena that points at caller-owned data (no copy). */
struct fr_tensor *fr_wrap(struct fr_ctx *ctx, enum fr_dtype dt, int ndim, const int64_t *ne,
                          void *data);
/* Raw arena bytes (64-byte aligned), for op scratch; NULL on failure. */
void *fr_ctx_alloc(struct fr_ctx *ctx, size_t bytes);

/* Gradient mode. fr_no_grad_begin returns the previous mode; pass it to
 * fr_no_grad_end to restore it, so scopes nest:
 *     int g = fr_no_grad_begin(ctx); ...; fr_no_grad_end(ctx, g); */
int fr_no_grad_begin(struct fr_ctx *ctx);
void fr_no_grad_end(struct fr_ctx *ctx, int prev);
int fr_grad_enabled(const struct fr_ctx *ctx);
/* Training mode (dropout active, batch norm uses batch statistics). */
void fr_set_training(struct fr_ctx *ctx, int on);
int fr_is_training(const struct fr_ctx *ctx);
/* The slice of a global batch this context computes (data parallelism):
 * samples [lo, lo + n) of `total`, the sample being a tensor's last
 * dimension. Random ops (dropout) draw what the whole batch would draw
 * for those samples, so N ranks give one process's result. total 0 (the
 * default): the context computes whole batches. */
void fr_ctx_set_shard(struct fr_ctx *ctx, int64_t lo, int64_t total);
int64_t fr_ctx_shard(const struct fr_ctx *ctx, int64_t *total);
/* Synchronised batch norm: a function that sums n doubles in place over
 * every process computing a slice of the same global batch (data
 * parallelism sets the dist layer's all-reduce). While one is set and the
 * context computes a slice (fr_ctx_set_shard, fewer samples than total),
 * fr_batchnorm in training mode normalises with the whole global batch's
 * statistics, and its backward sums its per-channel terms the same way,
 * so N processes compute what one would. Every process must then run the
 * same batch-norm layers in the same order. fn returns 0 or an error code
 * (the caller that set it learns of failures through its own user data).
 * NULL: per-process statistics. fr_ctx_reduce calls it (0 when none). */
typedef int (*fr_reduce_fn)(void *user, double *x, int64_t n);
void fr_ctx_set_reduce(struct fr_ctx *ctx, fr_reduce_fn fn, void *user);
int fr_ctx_reduce(const struct fr_ctx *ctx, double *x, int64_t n);
int fr_ctx_has_reduce(const struct fr_ctx *ctx);
/* Forward observation (PyTorch's forward hooks): fn(user, out) is called
 * with every op's result right after its forward ran in this context
 * (out->op names the op: ops.h fr_op_kind), gradients on or off. The
 * tensor lives until the context is reset, and so does its grad after a
 * backward pass: zero-shot NAS proxies read activations (ReLU patterns)
 * and activation gradients (Fisher) this way. NULL removes it. The
 * observer must not run ops in this context. */
typedef void (*fr_observer_fn)(void *user, struct fr_tensor *out);
void fr_ctx_set_observer(struct fr_ctx *ctx, fr_observer_fn fn, void *user);
void fr_ctx_observe(struct fr_ctx *ctx, struct fr_tensor *out);
/* Frozen ReLU gates: while fn is set, fr_relu(x) asks fn(user, ctx, x) for
 * a mask of x's shape and dtype (0/1, no gradient) and returns x * mask
 * instead of max(x, 0); fn returns NULL to let that call be a plain ReLU.
 * Replaying the gates of a base point makes a difference quotient of
 * gradients the Hessian-vector product autograd's double backward gives
 * (which treats ReLU's second derivative as 0): the difference never
 * crosses a kink (zero-shot NAS's GraSP). NULL removes it. */
typedef struct fr_tensor *(*fr_gate_fn)(void *user, struct fr_ctx *ctx, struct fr_tensor *x);
void fr_ctx_set_relu_gate(struct fr_ctx *ctx, fr_gate_fn fn, void *user);
struct fr_tensor *fr_ctx_relu_gate(struct fr_ctx *ctx, struct fr_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
