/* bench_conv.c: fr_conv2d forward and forward+backward on CNN-sized shapes.
 *
 * Cases (NCHW, batch 64, 28x28, stride 1, padding k//2, with bias): a
 * dense 3x3 conv 32->32 channels (im2col + GEMM) and depthwise 7x7, 13x13
 * and 31x31 convs on 64 channels (the direct kernels; SLaK/RepLKNet-style
 * large kernels). Input and weights require grad, the loss is sum(y), so
 * the backward computes dx, dw and db, exactly as bench/torch_conv.py does
 * in PyTorch. Each sample is one call; after 2 warm-up calls the median of
 * `reps` samples is printed in ms, one line per case:
 *     <case> fwd_ms <t> fwdbwd_ms <t> fwd_gflops <g> fwdbwd_gflops <g> fwd_peak_pct <p> ...
 * (GFLOP/s from the direct-conv FLOP count; % of this run's FMA peak,
 * measured at the same threads by peak.h)
 * A run also checks one output element against a direct sum, so a fast
 * wrong kernel does not go unnoticed.
 *
 * Usage: bench_conv [--threads N (2)] [--reps R (7)] [--quick] [--precision f32|bf16 (f32)]
 */
#include "frugal/frugal.h"
#include "frugal/kernels.h"
#include "peak.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bcase {
    const char *name;
    int64_t N, C, H, W, O, K, groups;
};

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return v[n / 2];
}

static double g_peak; /* GFLOP/s, this run's FMA peak at the bench's threads */

/* Runs one case; returns nonzero on failure. */
static int run_case(const struct bcase *c, int reps) {
    int64_t nx[4] = {c->W, c->H, c->C, c->N}, nw[4] = {c->K, c->K, c->C / c->groups, c->O};
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, nx), *w = fr_tensor_new(FR_F32, 4, nw);
    struct fr_tensor *b = fr_tensor_new(FR_F32, 1, (int64_t[]){c->O});
    struct fr_ctx *ctx = fr_ctx_new((size_t)1 << 28);
    double *tf = malloc(sizeof(double) * (size_t)reps), *tb = malloc(sizeof(double) * (size_t)reps);
    int rc = 1;
    if (!x || !w || !b || !ctx || !tf || !tb) goto cleanup;
    struct fr_rng rng;
    fr_rng_seed(&rng, 1);
    struct fr_tensor *ts[3] = {x, w, b};
    for (int t = 0; t < 3; t++) {
        float *p = ts[t]->data;
        for (int64_t i = 0; i < fr_nelem(ts[t]); i++)
            p[i] = (float)(2 * fr_rng_uniform(&rng) - 1);
        ts[t]->requires_grad = 1;
    }
    int pad = (int)(c->K / 2);
    struct fr_conv2d_opts o = {.pad_h = pad, .pad_w = pad, .groups = (int)c->groups};
    for (int r = -2; r < reps; r++) {
        /* forward only */
        fr_ctx_reset(ctx);
        int g = fr_no_grad_begin(ctx);
        double t0 = peak_now();
        struct fr_tensor *y = fr_conv2d(ctx, x, w, b, &o);
        double t1 = peak_now();
        fr_no_grad_end(ctx, g);
        if (!y) {
            fprintf(stderr, "%s: %s\n", c->name, fr_last_error());
            goto cleanup;
        }
        /* forward + backward */
        fr_ctx_reset(ctx);
        x->grad = w->grad = b->grad = NULL;
        double t2 = peak_now();
        y = fr_conv2d(ctx, x, w, b, &o);
        struct fr_tensor *loss = fr_sum(ctx, y, -1);
        if (!loss || fr_backward(ctx, loss)) {
            fprintf(stderr, "%s: %s\n", c->name, fr_last_error());
            goto cleanup;
        }
        double t3 = peak_now();
        if (r >= 0) tf[r] = t1 - t0, tb[r] = t3 - t2;
        if (r == -1) {
            /* spot check: output (n=1, o=last, oh=3, ow=5) by a direct sum */
            int64_t n = 1, oc = c->O - 1, oh = 3, ow = 5, cg = c->C / c->groups;
            int64_t c0 = oc / (c->O / c->groups) * cg;
            double s = ((float *)b->data)[oc];
            for (int64_t ci = 0; ci < cg; ci++)
                for (int64_t kh = 0; kh < c->K; kh++)
                    for (int64_t kw = 0; kw < c->K; kw++) {
                        int64_t ih = oh - pad + kh, iw = ow - pad + kw;
                        if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                        s += (double)((float *)
                                          x->data)[((n * c->C + c0 + ci) * c->H + ih) * c->W + iw] *
                             ((float *)w->data)[((oc * cg + ci) * c->K + kh) * c->K + kw];
                    }
            double got = fr_get(y, ((n * c->O + oc) * c->H + oh) * c->W + ow);
            if (fabs(got - s) > 1e-3 * (1 + fabs(s))) {
                fprintf(stderr, "%s: wrong result %g, expected %g\n", c->name, got, s);
                goto cleanup;
            }
        }
    }
    /* forward: 2 N O H W K^2 Cin/G flops; the backward adds dx and dw, the
     * same count each: fwd + bwd = 3 x forward */
    double mf = median(tf, reps), mb = median(tb, reps);
    double fl = 2.0 * (double)(c->N * c->O * c->H * c->W * c->K * c->K * (c->C / c->groups));
    printf("%-14s fwd_ms %9.3f fwdbwd_ms %9.3f fwd_gflops %7.1f fwdbwd_gflops %7.1f "
           "fwd_peak_pct %5.1f fwdbwd_peak_pct %5.1f\n",
           c->name, 1e3 * mf, 1e3 * mb, fl / mf / 1e9, 3 * fl / mb / 1e9,
           100 * fl / mf / 1e9 / g_peak, 100 * 3 * fl / mb / 1e9 / g_peak);
    fflush(stdout);
    rc = 0;
cleanup:
    fr_tensor_free(x);
    fr_tensor_free(w);
    fr_tensor_free(b);
    fr_ctx_free(ctx);
    free(tf);
    free(tb);
    return rc;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 7, prev;
    const char *precision = "f32";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            precision = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            reps = 3;
        else {
            fprintf(stderr, "usage: bench_conv [--threads N (2)] [--reps R (7)] [--quick] "
                            "[--precision f32|bf16 (f32)]\n");
            return 2;
        }
    }
    if (fr_precision_begin(precision, &prev)) {
        fprintf(stderr, "bench_conv: %s\n", fr_last_error());
        return 1;
    }
    if (reps < 1 || fr_threads_set(threads)) {
        fprintf(stderr, "bench_conv: bad --reps or --threads\n");
        return 2;
    }
    const struct bcase cases[] = {
        {"conv3x3_c32", 64, 32, 28, 28, 32, 3, 1},
        {"dw7x7_c64", 64, 64, 28, 28, 64, 7, 64},
        {"dw13x13_c64", 64, 64, 28, 28, 64, 13, 64},
        {"dw31x31_c64", 64, 64, 28, 28, 64, 31, 64},
        /* SLaK's first stage: 51 x 51 on a 56 x 56 map, batch 16 */
        {"dw51x51_c64_56", 16, 64, 56, 56, 64, 51, 64},
    };
    g_peak = peak_gflops(fr_cpu_isa() >= FR_ISA_AVX512, threads, 3);
    printf("# bench_conv: threads %d, median of %d, precision %s, isa %s\n", threads, reps,
           precision, fr_isa_name(fr_cpu_isa()));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (run_case(&cases[i], reps)) return 1;
    return 0;
}
