/* bench_sparse.c: dense fr_gemm against the CSR kernel (fr_csr_matmul) for
 * a linear layer Y = X W^T with W pruned to 50..99% sparsity (random
 * unstructured mask, as magnitude pruning of a trained layer looks to a
 * kernel), for a few transformer-sized shapes and batches 1, 8, 64.
 *
 * Dense and sparse are timed alternately; a sample is as many calls as fill
 * >= 10 ms, the reported time is the median of `reps` samples. The sparse
 * result is compared with the dense one (max relative difference) so a fast
 * wrong kernel cannot pass unnoticed. Prints one markdown table row per
 * (shape, batch, sparsity) with the speedup dense/sparse, then the crossover
 * (lowest sparsity from which sparse is faster at every higher level) per
 * shape and batch, and what fr_sparse_preferred decides.
 *
 * Usage: bench_sparse [--threads N (2)] [--reps R (5)] [--quick] [--cpu-time]
 * (--cpu-time: process CPU time / threads, for a shared machine).
 */
#include "frugal/kernels.h"
#include "frugal/methods/prune.h"
#include "frugal/rng.h"
#include "frugal/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_cpu_time;
static int g_threads = 2;

static double now(void) {
    struct timespec ts;
    clock_gettime(g_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return g_cpu_time ? t / g_threads : t;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct job {
    int sparse;
    const struct fr_csr *A;
    const float *W, *X;
    float *Y;
    int64_t rows, cols, B;
};

static void run(const struct job *j) {
    if (j->sparse)
        fr_csr_matmul(j->A, j->B, j->X, j->cols, j->Y, j->rows);
    else
        fr_gemm(0, 1, j->B, j->rows, j->cols, 1.0f, j->X, j->cols, j->W, j->cols, 0.0f, j->Y,
                j->rows);
}

/* seconds per call: calls per sample so a sample lasts >= 10 ms */
static double sample(const struct job *j, int64_t calls) {
    double t0 = now();
    for (int64_t i = 0; i < calls; i++)
        run(j);
    return (now() - t0) / (double)calls;
}

static int64_t calibrate(const struct job *j) {
    int64_t calls = 1;
    for (;;) {
        double t0 = now();
        for (int64_t i = 0; i < calls; i++)
            run(j);
        if (now() - t0 >= 0.01 || calls >= 1 << 20) return calls;
        calls *= 2;
    }
}

int main(int argc, char **argv) {
    int reps = 5, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--cpu-time"))
            g_cpu_time = 1;
        else {
            fprintf(stderr, "usage: %s [--threads N (2)] [--reps R (5)] [--quick] [--cpu-time]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 101 || fr_threads_set(g_threads)) {
        fprintf(stderr, "bench_sparse: bad --reps or --threads\n");
        return 2;
    }
    static const int64_t shapes[][2] = {{768, 768}, {3072, 768}, {768, 3072}};
    static const int64_t batches[] = {1, 8, 64};
    static const double sp[] = {0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99};
    const int nshape = quick ? 1 : 3, nsp = (int)(sizeof sp / sizeof sp[0]);
    printf("threads %d, %s time, median of %d\n\n", fr_threads_get(), g_cpu_time ? "cpu" : "wall",
           reps);
    printf("| W (out x in) | batch | sparsity | dense ms | sparse ms | dense/sparse | rule | max "
           "rel diff |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    char summary[64][160];
    int nsum = 0, bad = 0;
    for (int s = 0; s < nshape; s++) {
        const int64_t R = shapes[s][0], C = shapes[s][1];
        float *W0 = malloc((size_t)(R * C) * sizeof *W0), *W = malloc((size_t)(R * C) * sizeof *W);
        float *X = malloc((size_t)(64 * C) * sizeof *X);
        float *Yd = malloc((size_t)(64 * R) * sizeof *Yd),
              *Ys = malloc((size_t)(64 * R) * sizeof *Ys);
        float *u = malloc((size_t)(R * C) * sizeof *u);
        if (!W0 || !W || !X || !Yd || !Ys || !u) return 1;
        struct fr_rng rng;
        fr_rng_seed(&rng, 7);
        fr_rng_fill_normal(&rng, W0, R * C, 0, 0.02f);
        fr_rng_fill_normal(&rng, X, 64 * C, 0, 1);
        fr_rng_fill_uniform(&rng, u, R * C, 0, 1);
        for (int bi = 0; bi < 3; bi++) {
            const int64_t B = batches[bi];
            double cross = -1;
            for (int k = 0; k < nsp; k++) {
                for (int64_t i = 0; i < R * C; i++)
                    W[i] = u[i] < sp[k] ? 0.0f : W0[i];
                struct fr_csr A;
                if (fr_csr_from_dense(&A, W, R, C, C)) return 1;
                struct job jd = {0, &A, W, X, Yd, R, C, B}, js = {1, &A, W, X, Ys, R, C, B};
                int64_t cd = calibrate(&jd), cs = calibrate(&js);
                double td[101], ts[101];
                for (int r = 0; r < reps; r++) {
                    td[r] = sample(&jd, cd);
                    ts[r] = sample(&js, cs);
                }
                qsort(td, (size_t)reps, sizeof *td, cmpd);
                qsort(ts, (size_t)reps, sizeof *ts, cmpd);
                double md = td[reps / 2], ms = ts[reps / 2], diff = 0, scale = 0;
                for (int64_t i = 0; i < B * R; i++)
                    scale = fmax(scale, fabs(Yd[i]));
                for (int64_t i = 0; i < B * R; i++)
                    diff = fmax(diff, fabs(Yd[i] - Ys[i]));
                diff /= scale > 0 ? scale : 1;
                if (diff > 1e-4) bad = 1;
                double dens = (double)A.nnz / (double)(R * C);
                printf("| %lldx%lld | %lld | %.2f | %.4f | %.4f | %.2f | %s | %.1e |\n",
                       (long long)R, (long long)C, (long long)B, sp[k], 1e3 * md, 1e3 * ms, md / ms,
                       fr_sparse_preferred(R, C, B, dens) ? "sparse" : "dense", diff);
                fflush(stdout);
                if (md > ms) {
                    if (cross < 0) cross = sp[k];
                } else {
                    cross = -1;
                }
                fr_csr_free(&A);
            }
            if (nsum < 64) {
                if (cross < 0)
                    snprintf(summary[nsum++], sizeof summary[0],
                             "%lldx%lld batch %lld: dense at every sparsity up to %.2f",
                             (long long)R, (long long)C, (long long)B, sp[nsp - 1]);
                else
                    snprintf(summary[nsum++], sizeof summary[0],
                             "%lldx%lld batch %lld: sparse faster from %.2f sparsity", (long long)R,
                             (long long)C, (long long)B, cross);
            }
        }
        free(W0);
        free(W);
        free(X);
        free(Yd);
        free(Ys);
        free(u);
    }
    printf("\ncrossover (lowest sparsity from which sparse wins at every higher level):\n");
    for (int i = 0; i < nsum; i++)
        printf("  %s\n", summary[i]);
    if (bad) fprintf(stderr, "bench_sparse: sparse result differs from dense\n");
    return bad;
}
