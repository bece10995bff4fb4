/* ctx.h: the context's tape storage, private to the library. Core owns the
 * list (it lives and is reset with the arena); the autograd layer
 * (src/autograd/tape.c) is the only writer and reader. */
#ifndef FRUGAL_CORE_CTX_H
#define FRUGAL_CORE_CTX_H

#include "frugal/tensor.h"

#include <stddef.h>

/* Appends t to ctx's tape; 0 or FR_ENOMEM. */
int fr_ctx_tape_push(struct fr_ctx *ctx, struct fr_tensor *t);
/* The tape since the last fr_ctx_reset, oldest first; *n entries. */
struct fr_tensor *const *fr_ctx_tape(const struct fr_ctx *ctx, size_t *n);

#endif
