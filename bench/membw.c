/* membw.c: memory bandwidth probe (the roofline for decode-time matvec).
 * Read bandwidth: summing a 1 GiB float array (streaming loads only, as a
 * weight read is); copy bandwidth (read + write). Threads: 1 and the pool
 * size. Best of 9 runs (on a shared machine the fastest run is the one
 * least disturbed; the bound should be the machine's, not the noise's),
 * GB/s = 1e9 bytes/s. Prints one line per case and a machine-readable last
 * line "read_gbs N". */
#include "../src/kernels/vec.h"
#include "frugal/clock.h"
#include "frugal/threads.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *A, *B;
static int64_t N;
static float partial[256];

/* 64 independent float lanes: enough parallel adds that the sum never
 * limits the load rate (a single 16-lane chain caps one core near 16 B per
 * cycle of add latency, below what the memory system delivers). */
FR_CLONES static float sum64(int64_t n, const float *x) {
    float acc[64] = {0};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++)
            acc[j] += x[i + j];
    float s = 0;
    for (int j = 0; j < 64; j++)
        s += acc[j];
    for (; i < n; i++)
        s += x[i];
    return s;
}

static void rd(void *arg, int64_t b, int64_t e, int tid) {
    (void)arg;
    partial[tid] += sum64(e - b, A + b);
}
static void cp(void *arg, int64_t b, int64_t e, int tid) {
    (void)arg;
    (void)tid;
    memcpy(B + b, A + b, (size_t)(e - b) * sizeof(float));
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run(fr_task_fn fn, double bytes) {
    double t[9];
    for (int r = 0; r < 9; r++) {
        double t0 = fr_seconds();
        fr_parallel_for(N, 1 << 16, fn, NULL);
        t[r] = fr_seconds() - t0;
    }
    qsort(t, 9, sizeof t[0], cmp);
    return bytes / t[0] / 1e9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    N = (int64_t)1 << 28; /* 1 GiB of floats */
    A = aligned_alloc(64, (size_t)N * 4);
    B = aligned_alloc(64, (size_t)N * 4);
    for (int64_t i = 0; i < N; i++)
        A[i] = B[i] = 1.0f;
    double best_read = 0;
    for (int t = 1; t <= threads; t++) {
        fr_threads_set(t);
        double r = run(rd, (double)N * 4), c = run(cp, (double)N * 8);
        printf("threads %d: read %.1f GB/s, copy %.1f GB/s (read+write bytes)\n", t, r, c);
        if (r > best_read) best_read = r;
    }
    printf("read_gbs %.2f\n", best_read);
    return partial[0] < 0; /* keep the sums alive */
}
