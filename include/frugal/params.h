/* params.h: a model's parameters as one flat slab with named views.
 *
 * Values, gradients and (on demand) a keep-mask each live in one contiguous
 * float array of p->n elements; every parameter tensor is a view at a fixed
 * offset. An optimizer state, a soup average, an MPI all-reduce or a
 * checkpoint is then a loop over one array. Buffers that are not trained
 * (batch-norm running statistics) are declared with FR_PARAM_BUFFER: they
 * live in the slab and are saved, but get no gradient and are skipped by
 * optimizers (their grad stays 0).
 *
 * Use: fr_params_init, fr_params_add for each tensor, fr_params_alloc once,
 * then read/write through the returned tensors. fr_params_free releases all.
 */
#ifndef FRUGAL_PARAMS_H
#define FRUGAL_PARAMS_H

#include "frugal/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FR_PARAM_BUFFER = 1 << 0,   /* saved, not trained */
    FR_PARAM_NO_DECAY = 1 << 1, /* excluded from weight decay (norms, biases) */
    FR_PARAM_PRUNABLE = 1 << 2  /* in the default pruning scope */
};

struct fr_param {
    char name[128];
    struct fr_tensor *t; /* view into the value slab; t->grad views the grad slab */
    int64_t offset;      /* in elements */
    int flags;
};

struct fr_params {
    int64_t n;   /* total elements */
    float *data; /* values */
    float *grad; /* gradients (same layout) */
    float *mask; /* keep-mask (1 keep, 0 pruned), NULL until fr_params_mask_init */
    struct fr_param *items;
    int count, cap;
    int allocated;
};

void fr_params_init(struct fr_params *p);
/* Declares a float parameter of the given shape (innermost first). Returns
 * its tensor (data set by fr_params_alloc) or NULL (duplicate name, bad
 * shape, already allocated). */
struct fr_tensor *fr_params_add(struct fr_params *p, const char *name, int ndim, const int64_t *ne,
                                int flags);
/* Allocates the slabs (64-byte aligned, zeroed) and points every view. */
int fr_params_alloc(struct fr_params *p);
void fr_params_free(struct fr_params *p);
struct fr_param *fr_params_find(const struct fr_params *p, const char *name);
void fr_params_zero_grad(struct fr_params *p);
/* Number of trainable (non-buffer) elements. */
int64_t fr_params_count_trainable(const struct fr_params *p);
/* Allocates the mask slab set to all ones (idempotent). */
int fr_params_mask_init(struct fr_params *p);
/* data *= mask (and grad *= mask), keeping pruned weights exactly zero. */
void fr_params_apply_mask(struct fr_params *p);
/* Copies values between two slabs of identical layout. */
int fr_params_copy(struct fr_params *dst, const struct fr_params *src);

#ifdef __cplusplus
}
#endif
#endif
