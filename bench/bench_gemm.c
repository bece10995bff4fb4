/* bench_gemm.c: frugal's SGEMM against OpenBLAS in the same process.
 *
 * For each shape it times fr_gemm and cblas_sgemm alternately (so machine
 * noise hits both alike, after a pause that lets the other library's
 * spinning threads go to sleep): a sample is as many calls as fill >= 20 ms,
 * timed together; the reported rate is the median of `reps` samples. The
 * two results are compared (max relative difference) so a fast wrong
 * kernel cannot pass unnoticed. Prints a markdown table with the ratio
 * frugal / OpenBLAS and frugal's share of the measured FMA peak (peak.h,
 * same thread count, widest ISA in use).
 *
 * Usage: bench_gemm [--threads N] [--reps R] [--quick] [--cpu-time]
 *                   [--shape MxNxK[:NN|NT|TN|TT]]... [--no-peer] [--scaling]
 * (--cpu-time: for a shared machine, see sample(); --shape replaces the
 * default list; --no-peer skips OpenBLAS, so its threads never run in the
 * process; --scaling also times frugal at 1 thread, interleaved, and
 * prints N threads over 1 thread; --bf16 also times fr_gemm in bf16
 * precision (AMX or AVX512-BF16, fr_gemm_precision_set), interleaved, and
 * prints bf16 over f32 and the bf16 result's normwise distance from f32).
 * OpenBLAS is configured as the environment says (OPENBLAS_CORETYPE is not
 * touched); its thread count is set to N like frugal's.
 */
#include "frugal/kernels.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "peak.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

struct shape {
    int64_t M, N, K;
    int ta, tb;
};

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run_frugal(const struct shape *s, const float *A, const float *B, float *C) {
    fr_gemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, s->ta ? s->M : s->K, B, s->tb ? s->K : s->N,
            0.0f, C, s->N);
}

static void run_bf16(const struct shape *s, const float *A, const float *B, float *C) {
    fr_gemm_precision_set(FR_GEMM_BF16);
    run_frugal(s, A, B, C);
    fr_gemm_precision_set(FR_GEMM_F32);
}

#ifdef HAVE_OPENBLAS
static void run_blas(const struct shape *s, const float *A, const float *B, float *C) {
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                (int)s->M, (int)s->N, (int)s->K, 1.0f, A, (int)(s->ta ? s->M : s->K), B,
                (int)(s->tb ? s->K : s->N), 0.0f, C, (int)s->N);
}
#endif

typedef void (*run_fn)(const struct shape *, const float *, const float *, float *);

/* Seconds per call over one sample (>= 20 ms of calls). Sleeps 0.2 s
 * first: OpenBLAS's idle workers busy-wait ~0.1 s after a call (and
 * frugal's briefly), which would steal the cores from the next sample. */
static int g_cpu_time, g_threads;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* With --cpu-time the clock is the process CPU time divided by the thread
 * count: time lost while another process holds a core is not counted, time
 * spent spinning in a barrier is. */
static double sample(run_fn f, const struct shape *s, const float *A, const float *B, float *C) {
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    int calls = 0;
    double (*clock)(void) = g_cpu_time ? cpu_now : peak_now;
    double t0 = clock(), t;
    do {
        f(s, A, B, C);
        calls++;
        t = clock();
    } while (t - t0 < 0.02 * (g_cpu_time ? g_threads : 1));
    return (t - t0) / calls / (g_cpu_time ? g_threads : 1);
}

static int parse_shape(const char *t, struct shape *s) {
    long long m, n, k;
    char tr[3] = "NN";
    int got = sscanf(t, "%lldx%lldx%lld:%2[NT]", &m, &n, &k, tr);
    if (got < 3 || m < 1 || n < 1 || k < 1 || m > 1048576 || n > 1048576 || k > 1048576 ||
        m * n > (1LL << 28) || m * k > (1LL << 28) || n * k > (1LL << 28) ||
        (got == 4 && strlen(tr) != 2))
        return -1;
    *s = (struct shape){m, n, k, tr[0] == 'T', tr[1] == 'T'};
    return 0;
}

int main(int argc, char **argv) {
    int nt = 2, reps = 7, quick = 0, no_peer = 0, scaling = 0, bf16 = 0;
    struct shape shapes[64];
    int ns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--cpu-time"))
            g_cpu_time = 1;
        else if (!strcmp(argv[i], "--no-peer"))
            no_peer = 1;
        else if (!strcmp(argv[i], "--bf16"))
            bf16 = 1;
        else if (!strcmp(argv[i], "--scaling"))
            scaling = 1;
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc && ns < 64) {
            if (parse_shape(argv[++i], &shapes[ns++])) {
                fprintf(stderr, "bench_gemm: bad --shape '%s' (want MxNxK or MxNxK:TT)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: %s [--threads N (2)] [--reps R (7)] [--quick] [--cpu-time] "
                    "[--shape MxNxK[:NN|NT|TN|TT]]... [--no-peer] [--scaling] [--bf16]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nt < 1 || nt > 256 || reps < 1 || reps > 99) {
        fprintf(stderr, "bench_gemm: bad --threads or --reps\n");
        return 2;
    }
#ifndef HAVE_OPENBLAS
    no_peer = 1;
#endif
    if (bf16 && fr_gemm_precision_set(FR_GEMM_BF16)) {
        fprintf(stderr, "bench_gemm: --bf16: %s\n", fr_last_error());
        return 1;
    }
    fr_gemm_precision_set(FR_GEMM_F32);
    g_threads = nt;
    /* (the FMA peak below is measured on the same clock) */
    /* the peak first: a started pool's spinning workers would share its cores */
    enum fr_isa isa = fr_cpu_isa();
    double peak = isa == FR_ISA_AVX512 ? peak_gflops_clock(1, nt, 3, g_cpu_time)
                  : isa == FR_ISA_AVX2 ? peak_gflops_clock(0, nt, 3, g_cpu_time)
                                       : 0;
    fr_threads_set(nt);
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(nt);
    const char *core = no_peer ? "not run" : openblas_get_corename();
#else
    const char *core = "not built";
#endif
    printf("frugal ISA %s, %d threads, FMA peak %.1f GFLOP/s (%s, %d threads); OpenBLAS core %s; "
           "median of %d samples; clock: %s\n\n",
           fr_isa_name(isa), nt, peak, isa == FR_ISA_AVX512 ? "AVX-512" : "AVX2", nt, core, reps,
           g_cpu_time ? "process CPU time / threads" : "wall");

    if (ns == 0) {
        int64_t sq[] = {256, 512, 768, 1024, 1536, 2048};
        int nsq = quick ? 3 : 6;
        for (int i = 0; i < nsq; i++)
            shapes[ns++] = (struct shape){sq[i], sq[i], sq[i], 0, 0};
        shapes[ns++] = (struct shape){1024, 1024, 1024, 0, 1};
        shapes[ns++] = (struct shape){1024, 1024, 1024, 1, 0};
        shapes[ns++] = (struct shape){1024, 1024, 1024, 1, 1};
        int64_t ms[] = {1, 8, 64};
        int64_t kn[][2] = {{768, 3072}, {3072, 768}};
        for (int tb = 0; tb < 2; tb++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 2; j++)
                    shapes[ns++] = (struct shape){ms[i], kn[j][1], kn[j][0], 0, tb};
    }

    printf("| M x N x K | op(A) op(B) | frugal GFLOP/s | OpenBLAS GFLOP/s | frugal / OpenBLAS | "
           "frugal %% of peak | max rel diff |%s\n|---|---|---|---|---|---|---|%s\n",
           scaling ? " frugal 1 thread | N threads / 1 |" : "", scaling ? "---|---|" : "");
    if (bf16)
        printf("(bf16 columns: frugal bf16 precision on %s | bf16 / f32 | normwise distance "
               "from f32)\n",
               fr_bf16_name(fr_cpu_bf16()));
    struct fr_rng rng;
    fr_rng_seed(&rng, 42);
    for (int si = 0; si < ns; si++) {
        const struct shape *s = &shapes[si];
        size_t na = (size_t)(s->M * s->K), nb = (size_t)(s->K * s->N), nc = (size_t)(s->M * s->N);
        float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
        float *C = malloc(nc * sizeof(float)), *C2 = malloc(nc * sizeof(float));
        if (!A || !B || !C || !C2) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            return 1;
        }
        fr_rng_fill_uniform(&rng, A, (int64_t)na, -1, 1);
        fr_rng_fill_uniform(&rng, B, (int64_t)nb, -1, 1);
        double tf[99], tb[99], t1[99], th[99];
        double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        run_frugal(s, A, B, C);
        double diff = NAN, ob = NAN, g1 = NAN;
#ifdef HAVE_OPENBLAS
        if (!no_peer) {
            run_blas(s, A, B, C2);
            double dmax = 0, cmax = 0; /* normwise: max |diff| / max |C| */
            for (size_t i = 0; i < nc; i++) {
                double d = fabs((double)C[i] - C2[i]);
                if (d > dmax) dmax = d;
                if (fabs((double)C2[i]) > cmax) cmax = fabs((double)C2[i]);
            }
            diff = dmax / (cmax > 0 ? cmax : 1);
        }
#endif
        for (int r = 0; r < reps; r++) {
            tf[r] = sample(run_frugal, s, A, B, C);
            tb[r] = NAN;
#ifdef HAVE_OPENBLAS
            if (!no_peer) tb[r] = sample(run_blas, s, A, B, C2);
#endif
            if (bf16) th[r] = sample(run_bf16, s, A, B, C2);
            if (scaling) { /* the 1-thread clock is wall or CPU time of one thread alike */
                int keep = g_threads;
                fr_threads_set(1);
                g_threads = 1;
                t1[r] = sample(run_frugal, s, A, B, C);
                g_threads = keep;
                fr_threads_set(nt);
            }
        }
        qsort(tf, (size_t)reps, sizeof(double), cmpd);
        qsort(tb, (size_t)reps, sizeof(double), cmpd);
        if (scaling) qsort(t1, (size_t)reps, sizeof(double), cmpd);
        double gf = flops / tf[reps / 2] * 1e-9;
        if (!no_peer) ob = flops / tb[reps / 2] * 1e-9;
        if (scaling) g1 = flops / t1[reps / 2] * 1e-9;
        printf("| %lld x %lld x %lld | %s %s | %.1f | %.1f | %.2f | %.0f%% | %.1e |",
               (long long)s->M, (long long)s->N, (long long)s->K, s->ta ? "T" : "N",
               s->tb ? "T" : "N", gf, ob, gf / ob, peak > 0 ? 100 * gf / peak : NAN, diff);
        if (scaling) printf(" %.1f | %.2f |", g1, gf / g1);
        if (bf16) {
            qsort(th, (size_t)reps, sizeof(double), cmpd);
            double gh = flops / th[reps / 2] * 1e-9, dmax = 0, cmax = 0;
            run_frugal(s, A, B, C);
            run_bf16(s, A, B, C2);
            for (size_t i = 0; i < nc; i++) {
                dmax = fmax(dmax, fabs((double)C[i] - C2[i]));
                cmax = fmax(cmax, fabs((double)C[i]));
            }
            printf(" bf16 %.1f | %.2f | %.1e |", gh, gh / gf, dmax / (cmax > 0 ? cmax : 1));
        }
        printf("\n");
        fflush(stdout);
        free(A);
        free(B);
        free(C);
        free(C2);
    }
    return 0;
}
