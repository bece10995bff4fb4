/* bench_train_lm.c: training tokens/s of the nanoGPT CPU shakespeare-char
 * configuration (GPT, 4 layers, 4 heads, 128 embedding, block 64, batch 12,
 * vocab 65, AdamW, clip 1.0) on random tokens, timed over 50 steps after 5
 * warm-up steps: the same protocol as bench/torch_lm.py train.
 * usage: bench_train_lm [threads (2)] [f32|bf16 (f32): GEMM precision] */
#include "frugal/clock.h"
#include "frugal/frugal.h"
#include "frugal/optim.h"
#include "frugal/train.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    fr_threads_set(argc > 1 ? atoi(argv[1]) : 2);
    int prev;
    if (fr_precision_begin(argc > 2 ? argv[2] : "f32", &prev)) {
        fprintf(stderr, "bench_train_lm: %s\n", fr_last_error());
        return 1;
    }
    struct fr_tf_config c = {0};
    c.arch = FR_TF_GPT2, c.dim = 128, c.n_layers = 4, c.n_heads = 4, c.vocab_size = 65;
    c.max_seq = 64, c.tied = 1;
    struct fr_tf_model m;
    if (fr_tf_init(&m, &c, 1)) return 1;
    struct fr_optim opt;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 1e-3, oc.beta2 = 0.99, oc.weight_decay = 0.1;
    fr_optim_init(&opt, &m.params, &oc);
    struct fr_ctx *ctx = fr_ctx_new(64 << 20);
    struct fr_rng r;
    fr_rng_seed(&r, 1);
    int B = 12, T = 64;
    double t0 = 0;
    for (int i = 0; i < 55; i++) {
        if (i == 5) t0 = fr_seconds();
        fr_t *x = fr_new2(ctx, FR_I32, T, B), *y = fr_new2(ctx, FR_I32, T, B);
        for (int k = 0; k < B * T; k++) {
            ((int32_t *)x->data)[k] = (int32_t)fr_rng_below(&r, 65);
            ((int32_t *)y->data)[k] = (int32_t)fr_rng_below(&r, 65);
        }
        fr_t *loss = fr_cross_entropy(ctx, fr_tf_forward(ctx, &m, x, NULL), y, 0);
        fr_params_zero_grad(&m.params);
        fr_backward(ctx, loss);
        fr_clip_grad_norm(&m.params, 1.0);
        fr_optim_step(&opt, -1);
        fr_ctx_reset(ctx);
    }
    double dt = fr_seconds() - t0;
    printf("frugal train (%s): %.0f tokens/s (%.1f ms/iter), arena peak %.1f MB\n",
           argc > 2 ? argv[2] : "f32", 50.0 * B * T / dt, 1000 * dt / 50, fr_ctx_peak(ctx) / 1e6);
    fr_ctx_free(ctx);
    fr_optim_free(&opt);
    fr_tf_free(&m);
    return 0;
}
