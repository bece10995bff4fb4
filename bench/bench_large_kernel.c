/* bench_large_kernel.c: the large-kernel teacher (slak, three branches) on
 * the canvas task's input, timed whole: a training step (forward, cross
 * entropy, backward, AdamW) and an eval forward of the three-branch and
 * the re-parameterised (merged) forms. bench/torch_slak.py builds the same
 * network in PyTorch (same layout, kernels and widths) and times the same
 * things; bench_large_kernel.sh runs both, interleaved, and prints the
 * table with the CPU named.
 *
 * Batch 64 of side x side single-channel images; kernels from models.h's
 * rule (29-27-15 at 64 x 64, 13-11-5 at 28 x 28). After 2 warm-up calls the
 * median of `reps` samples is printed in ms:
 *     slak<side> train_ms <t> eval_ms <t> merged_eval_ms <t> params <n>
 *
 * Usage: bench_large_kernel [--threads N (2)] [--reps R (5)] [--side S (64)]
 */
#include "frugal/frugal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return v[n / 2];
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, side = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--side")) side = atoi(argv[i + 1]);
    }
    if (threads < 1 || reps < 1 || side < 8) return fprintf(stderr, "bad arguments\n"), 2;
    fr_threads_set(threads);
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.in_h = mc.in_w = side;
    struct fr_model *m = fr_model_new("slak", &mc, 1);
    if (!m) return fprintf(stderr, "%s\n", fr_last_error()), 1;
    const int B = 64;
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){side, side, 1, B});
    struct fr_tensor *y = fr_tensor_new(FR_I32, 1, (int64_t[]){B});
    struct fr_rng r;
    fr_rng_seed(&r, 2);
    fr_rng_fill_uniform(&r, x->data, fr_nelem(x), -1, 1);
    for (int i = 0; i < B; i++)
        ((int32_t *)y->data)[i] = i % 10;
    struct fr_ctx *ctx = fr_ctx_new((size_t)1 << 28);
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 1e-4;
    fr_optim_init(&o, &m->params, &oc);
    double *t = malloc(sizeof(double) * (size_t)reps);
    double tr, te, tm;
    fr_set_training(ctx, 1);
    for (int k = -2; k < reps; k++) {
        double t0 = fr_seconds();
        fr_params_zero_grad(&m->params);
        struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0);
        if (!loss || fr_backward(ctx, loss)) return fprintf(stderr, "%s\n", fr_last_error()), 1;
        fr_optim_step(&o, -1);
        fr_ctx_reset(ctx);
        if (k >= 0) t[k] = 1e3 * (fr_seconds() - t0);
    }
    tr = median(t, reps);
    struct fr_model *mm = fr_model_reparam(m);
    if (!mm) return fprintf(stderr, "%s\n", fr_last_error()), 1;
    fr_set_training(ctx, 0);
    struct fr_model *which[2] = {m, mm};
    double *res[2] = {&te, &tm};
    for (int w = 0; w < 2; w++) {
        for (int k = -2; k < reps; k++) {
            double t0 = fr_seconds();
            int g = fr_no_grad_begin(ctx);
            struct fr_tensor *z = which[w]->forward(which[w], ctx, x);
            fr_no_grad_end(ctx, g);
            if (!z) return fprintf(stderr, "%s\n", fr_last_error()), 1;
            fr_ctx_reset(ctx);
            if (k >= 0) t[k] = 1e3 * (fr_seconds() - t0);
        }
        *res[w] = median(t, reps);
    }
    printf("slak%d train_ms %.2f eval_ms %.2f merged_eval_ms %.2f params %lld\n", side, tr, te, tm,
           (long long)fr_params_count_trainable(&m->params));
    free(t);
    fr_optim_free(&o);
    fr_model_free(mm);
    fr_model_free(m);
    fr_ctx_free(ctx);
    fr_tensor_free(x);
    fr_tensor_free(y);
    return 0;
}
