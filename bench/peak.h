/* peak.h: the FMA peak of this machine, measured (shared by peak_fma.c and
 * bench_gemm.c so "% of peak" means the same number in both).
 *
 * Each thread runs 16 independent FMA chains (more than latency x pipes on
 * any current x86 core) for a fixed number of iterations; GFLOP/s counts
 * 2 flops per lane per FMA. nthreads threads run at once (pthreads) and
 * the wall time of the slowest gives the aggregate rate. Median of `reps`.
 */
#ifndef FRUGAL_BENCH_PEAK_H
#define FRUGAL_BENCH_PEAK_H

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline double peak_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define PEAK_ITERS 20000000L

__attribute__((target("avx512f,fma"))) static float peak_avx512_loop(long iters) {
    __m512 a[16], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            a[i] = _mm512_fmadd_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 16; i++)
        s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float peak_avx2_loop(long iters) {
    __m256 a[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], x, y);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++)
        s = _mm256_add_ps(s, a[i]);
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[7];
}

struct peak_arg {
    int avx512;
    long iters;
    volatile float sink;
    double cpu_s; /* this thread's CPU seconds */
};

static void *peak_thread(void *vp) {
    struct peak_arg *p = vp;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    p->sink = p->avx512 ? peak_avx512_loop(p->iters) : peak_avx2_loop(p->iters);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    p->cpu_s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    return NULL;
}

static int peak_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GFLOP/s of nthreads (<= 64) threads running FMA chains at once: by wall
 * time, or (cpu) summing each thread's rate over its own CPU time, which
 * ignores time the thread was not running (a shared machine). */
static inline double peak_gflops_clock(int avx512, int nthreads, int reps, int cpu) {
    double r[32];
    if (reps > 32) reps = 32;
    long iters = PEAK_ITERS / (avx512 ? 2 : 1);
    double flops_per_thread = (double)iters * (avx512 ? 16 * 16 : 12 * 8) * 2.0;
    for (int k = 0; k < reps; k++) {
        pthread_t th[64];
        struct peak_arg arg[64];
        double t0 = peak_now();
        for (int i = 0; i < nthreads; i++) {
            arg[i].avx512 = avx512;
            arg[i].iters = iters;
            pthread_create(&th[i], NULL, peak_thread, &arg[i]);
        }
        for (int i = 0; i < nthreads; i++)
            pthread_join(th[i], NULL);
        r[k] = flops_per_thread * nthreads / (peak_now() - t0) * 1e-9;
        if (cpu) {
            r[k] = 0;
            for (int i = 0; i < nthreads; i++)
                r[k] += flops_per_thread / arg[i].cpu_s * 1e-9;
        }
    }
    qsort(r, (size_t)reps, sizeof r[0], peak_cmp);
    return r[reps / 2];
}

static inline double peak_gflops(int avx512, int nthreads, int reps) {
    return peak_gflops_clock(avx512, nthreads, reps, 0);
}

#endif
