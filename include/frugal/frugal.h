/* frugal.h: the engine in one include: tensors and the context (core),
 * the ops and autograd, data loading and tokenizers, checkpoints, layers,
 * optimizers, the model zoo, the one training loop and its front-ends. The
 * research methods and the reproductions are layers above it, included on
 * their own: frugal/methods/<name>.h, frugal/experiments/<name>.h.
 *
 * Example (compiled and run by the tests exactly as written here): fit
 * y = 2x + 1 with a one-weight linear layer and AdamW.
 *
 * BEGIN EXAMPLE
 * #include <frugal/frugal.h>
 * #include <math.h>
 * #include <stdio.h>
 *
 * int main(void) {
 *     struct fr_params p;
 *     fr_params_init(&p);
 *     fr_t *w = fr_params_add(&p, "w", 2, (int64_t[]){1, 1}, 0);
 *     fr_t *b = fr_params_add(&p, "b", 1, (int64_t[]){1}, 0);
 *     if (fr_params_alloc(&p)) return 1; // one slab for every value and gradient
 *     struct fr_optim opt;
 *     struct fr_schedule lr;
 *     struct fr_optim_spec spec = {.opt = "adamw", .lr = 0.1};
 *     if (fr_optim_build(&opt, &lr, &p, &spec)) return 1;
 *     struct fr_ctx *ctx = fr_ctx_new(1 << 20);
 *     struct fr_rng rng;
 *     fr_rng_seed(&rng, 1);
 *     for (int step = 0; step < 300; step++) {
 *         fr_t *x = fr_new2(ctx, FR_F32, 1, 8), *y = fr_new2(ctx, FR_F32, 1, 8);
 *         for (int i = 0; i < 8; i++) {
 *             double xi = 2 * fr_rng_uniform(&rng) - 1;
 *             fr_set(x, i, xi);
 *             fr_set(y, i, 2 * xi + 1);
 *         }
 *         fr_t *loss = fr_mse(ctx, fr_linear(ctx, x, w, b), y);
 *         fr_params_zero_grad(&p);
 *         if (fr_backward(ctx, loss)) {
 *             fprintf(stderr, "%s\n", fr_last_error());
 *             return 1;
 *         }
 *         fr_optim_step(&opt, fr_schedule_lr(&lr, opt.step));
 *         fr_ctx_reset(ctx); // activations gone, memory kept
 *     }
 *     printf("w %.3f b %.3f\n", fr_get(w, 0), fr_get(b, 0));
 *     int ok = fabs(fr_get(w, 0) - 2) < 0.05 && fabs(fr_get(b, 0) - 1) < 0.05;
 *     fr_ctx_free(ctx);
 *     fr_optim_free(&opt);
 *     fr_params_free(&p);
 *     return ok ? 0 : 1;
 * }
 * END EXAMPLE
 *
 * A whole training run with batches, checkpoints and resume is the loop in
 * train.h (fr_fit) rather than a hand-written one like the above.
 *
 * Errors: functions return 0 or a negative FR_E* code, or NULL, and
 * fr_last_error() says why in one line. The library never prints to
 * stdout and never exits. docs/API.md has the naming rules.
 */
#ifndef FRUGAL_H
#define FRUGAL_H

#include "frugal/clock.h"
#include "frugal/cpu.h"
#include "frugal/params.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/tensor.h"
#include "frugal/threads.h"

#include "frugal/kernels.h"

#include "frugal/io.h"

#include "frugal/report.h"

#include "frugal/ops.h"

#include "frugal/data.h"
#include "frugal/tokenizer.h"

#include "frugal/kv.h"
#include "frugal/nn.h"

#include "frugal/optim.h"

#include "frugal/models.h"
#include "frugal/transformer.h"

#include "frugal/lm.h"
#include "frugal/train.h"

#endif
