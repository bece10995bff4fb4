/* frugal.h: everything. A worked example, training y = 2x + 1:
 *
 *     #include <frugal/frugal.h>
 *     struct fr_params p; fr_params_init(&p);
 *     fr_t *w = fr_params_add(&p, "w", 2, (int64_t[]){1, 1}, 0);
 *     fr_t *b = fr_params_add(&p, "b", 1, (int64_t[]){1}, 0);
 *     fr_params_alloc(&p);                        // one slab for all values
 *     struct fr_ctx *ctx = fr_ctx_new(1 << 20);
 *     for (int step = 0; step < 200; step++) {
 *         fr_t *x = fr_new2(ctx, FR_F32, 1, 8), *y = fr_new2(ctx, FR_F32, 1, 8);
 *         ... fill x, y ...
 *         fr_t *loss = fr_mse(ctx, fr_linear(ctx, x, w, b), y);
 *         fr_params_zero_grad(&p);
 *         fr_backward(ctx, loss);
 *         ... optimizer step on p (optim.h) ...
 *         fr_ctx_reset(ctx);                      // activations gone, memory kept
 *     }
 *
 * Errors: functions return 0 or a negative FR_E* code, or NULL, and
 * fr_last_error() says why in one line.
 */
#ifndef FRUGAL_H
#define FRUGAL_H

#include "frugal/ops.h"
#include "frugal/params.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/tensor.h"
#include "frugal/threads.h"
#include "frugal/tokenizer.h"

#endif
