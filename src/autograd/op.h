/* op.h: private helpers shared by the op files.
 *
 * Each src/autograd/op_*.c file is compiled twice: with `real` = float
 * (FR_PRIMARY defined, names suffixed _f32) and with `real` = double (names
 * suffixed _f64). The f64 build is the plain scalar reference used by the
 * double-precision gradient checks; the f32 build adds the fast paths and the
 * public constructor (fr_add, ...), which sits inside #ifdef FR_PRIMARY so it
 * is compiled once. Forward and backward of an op live side by side:
 *
 *   void FR_FN(fr_op_relu_forward)(struct fr_ctx *ctx, fr_t *out);
 *   void FR_FN(fr_op_relu_backward)(struct fr_ctx *ctx, fr_t *out);
 *
 * forward reads out->src[] and fills out->data; backward reads out->grad and
 * accumulates (+=) into fr_op_grad(ctx, out->src[i]) for inputs that need it.
 */
#ifndef FRUGAL_OP_H
#define FRUGAL_OP_H

#include "frugal/ops.h"
#include "frugal/status.h"
#include "frugal/tensor.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef FR_REAL_F64
typedef double real;
#define FR_FN(name) name##_f64
#define FR_REAL_DT FR_F64
#else
typedef float real;
#define FR_FN(name) name##_f32
#define FR_REAL_DT FR_F32
#define FR_PRIMARY 1
#endif

enum fr_op_id {
    FR_OP_NONE = 0,
#define FR_OP(E, n) FR_OP_##E,
#include "ops.def"
#undef FR_OP
    FR_OP_COUNT
};

typedef void (*fr_op_fn)(struct fr_ctx *ctx, struct fr_tensor *out);
#define FR_OP(E, n)                                                                                \
    void fr_op_##n##_forward_f32(struct fr_ctx *ctx, struct fr_tensor *out);                       \
    void fr_op_##n##_backward_f32(struct fr_ctx *ctx, struct fr_tensor *out);                      \
    void fr_op_##n##_forward_f64(struct fr_ctx *ctx, struct fr_tensor *out);                       \
    void fr_op_##n##_backward_f64(struct fr_ctx *ctx, struct fr_tensor *out);
#include "ops.def"
#undef FR_OP

const char *fr_op_name(int op);

/* Makes the output tensor of op `op` in the arena: contiguous, given dtype and
 * shape, src[] = s0..s3 (may be NULL), requires_grad when grad mode is on and
 * any source requires grad. NULL on allocation failure. */
struct fr_tensor *fr_op_new(struct fr_ctx *ctx, int op, enum fr_dtype dt, int ndim,
                            const int64_t *ne, struct fr_tensor *s0, struct fr_tensor *s1,
                            struct fr_tensor *s2, struct fr_tensor *s3);
/* Runs out's forward (by dtype) and records it on the tape if it requires
 * grad. Returns out. */
struct fr_tensor *fr_op_run(struct fr_ctx *ctx, struct fr_tensor *out);
/* Records out on the tape without running a forward (views, ops that computed
 * their result inside the constructor). */
struct fr_tensor *fr_op_record(struct fr_ctx *ctx, struct fr_tensor *out);
/* The grad of t, allocated zeroed in the arena on first use; NULL if t does
 * not require grad (so backward rules can skip it). */
struct fr_tensor *fr_op_grad(struct fr_ctx *ctx, struct fr_tensor *t);
/* For a backward that writes every element of t's grad: when t has no
 * grad yet, a new buffer that is NOT zeroed and *fresh = 1 (the caller
 * stores with =, sparing the zeroing pass); otherwise the existing grad and
 * *fresh = 0 (the caller adds). NULL (and *fresh 0) if t needs no grad. */
struct fr_tensor *fr_op_grad_fresh(struct fr_ctx *ctx, struct fr_tensor *t, int *fresh);

/* Input validation used by constructors: non-NULL, float dtype (F32/F64),
 * same dtype across the given inputs. Sets the error and returns nonzero
 * on failure. `who` names the op in the message. */
int fr_op_check_float(const char *who, struct fr_tensor *a, struct fr_tensor *b,
                      struct fr_tensor *c);
/* Broadcast shape of a and b (dims aligned at 0); nonzero + error if they
 * do not broadcast. */
int fr_op_broadcast_shape(const char *who, const struct fr_tensor *a, const struct fr_tensor *b,
                          int *ndim, int64_t *ne);
/* Strides (bytes) to read t as if it had shape ne (stride 0 on broadcast
 * dims); contiguous_dt_size > 0 means "t's contiguous layout with that
 * element size" (used to map into a grad buffer) instead of t->nb. */
void fr_op_broadcast_strides(const struct fr_tensor *t, const int64_t *ne, size_t elsize,
                             int use_contiguous, size_t *nb);

/* Pointer to element (i0..i3) through strides nb. */
#define FR_AT(base, nb, i0, i1, i2, i3)                                                            \
    ((void *)((char *)(base) + (size_t)(i0) * (nb)[0] + (size_t)(i1) * (nb)[1] +                   \
              (size_t)(i2) * (nb)[2] + (size_t)(i3) * (nb)[3]))

/* Number of threads for kernels; parallel helpers live in threads.h. */
#include "frugal/threads.h"

#endif
