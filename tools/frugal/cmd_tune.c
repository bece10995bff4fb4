/* cmd_tune.c: `frugal tune`: times a few GEMM cache blockings on shapes the
 * models use, at the thread count asked for, and writes the best for this
 * CPU to the per-user tuning file (fr_gemm_tune_path) that every later
 * frugal process reads at its first GEMM. Coordinate descent from the
 * blocking derived from the caches: kc first, then nc, then mc, keeping a
 * candidate only when it beats the best so far by more than the noise
 * margin; the winner is written only if it still beats the derived blocking
 * when both are re-measured interleaved (else the derived one is written).
 * Prints how close the derived blocking came to the winner. */
#include "args.h"
#include "cmd.h"

#include "frugal/kernels.h"
#include "frugal/report.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tshape {
    int64_t M, N, K;
    int ta, tb;
};

/* square, a linear layer's forward (NT), its weight gradient (TN), a
 * skinny batch */
static const struct tshape SHAPES[] = {
    {512, 512, 512, 0, 0}, {1024, 1024, 1024, 0, 1}, {768, 768, 2048, 1, 0}, {64, 3072, 768, 0, 0}};
#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Geometric mean GFLOP/s over the shapes: per shape the median of reps
 * samples, each as many calls as fill 15 ms. */
static double score(float *const *A, float *const *B, float *const *C, int reps) {
    double logsum = 0;
    for (int s = 0; s < NSHAPES; s++) {
        const struct tshape *t = &SHAPES[s];
        double rate[16];
        for (int r = 0; r < reps; r++) {
            int calls = 0;
            double t0 = now(), t1;
            do {
                fr_gemm(t->ta, t->tb, t->M, t->N, t->K, 1.0f, A[s], t->ta ? t->M : t->K, B[s],
                        t->tb ? t->K : t->N, 0.0f, C[s], t->N);
                calls++;
                t1 = now();
            } while (t1 - t0 < 0.015);
            rate[r] = 2.0 * (double)t->M * (double)t->N * (double)t->K * calls / (t1 - t0) * 1e-9;
        }
        qsort(rate, (size_t)reps, sizeof(double), cmpd);
        logsum += log(rate[reps / 2]);
    }
    return exp(logsum / NSHAPES);
}

int cmd_tune(int argc, char **argv) {
    int64_t threads = 0, reps = 5;
    int dry = 0;
    const char *out = NULL;
    double margin = 0.02;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "threads to tune for (0 = all cores)"},
        {.name = "reps", .type = ARG_INT, .dst = &reps, .min = 1, .max = 15,
         .help = "samples per shape and candidate (median)"},
        {.name = "margin", .type = ARG_DOUBLE, .dst = &margin, .min = 0, .max = 0.5,
         .help = "a candidate must beat the best so far by this fraction"},
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "tuning file (default: FRUGAL_TUNE_FILE, else ~/.cache/frugal/gemm-tune.txt)"},
        {.name = "dry-run", .type = ARG_BOOL, .dst = &dry,
         .help = "measure and print, write nothing"},
    };
    /* clang-format on */
    struct arg_cmd c = {
        .name = "tune",
        .synopsis = "frugal tune [flags]",
        .about =
            "Times GEMM cache blockings (kc, nc, mc) on four shapes and writes the best\n"
            "for this CPU and ISA to the tuning file that frugal reads at start-up\n"
            "(5 s on a 2-core Intel Xeon). Without it frugal uses the blocking derived from the\n"
            "cache sizes; the last line says how close that came.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int rc = cli_begin(&c, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    char path[4096];
    if (out && *out)
        snprintf(path, sizeof path, "%s", out);
    else if (fr_gemm_tune_path(path, sizeof path))
        return cli_fail("tune", "%s", fr_last_error());
    if (!strcmp(path, "none") && !dry)
        return cli_fail("tune", "FRUGAL_TUNE_FILE=none: nowhere to write (pass --out FILE)");
    if (!dry && fr_check_writable(path)) /* before the measuring, not after */
        return cli_fail("tune", "%s", fr_last_error());
    if (fr_threads_set((int)threads)) return cli_fail("tune", "%s", fr_last_error());
    enum fr_isa isa = fr_cpu_isa();

    float *A[NSHAPES], *B[NSHAPES], *C[NSHAPES];
    struct fr_rng rng;
    fr_rng_seed(&rng, 1);
    for (int s = 0; s < NSHAPES; s++) {
        const struct tshape *t = &SHAPES[s];
        A[s] = malloc(sizeof(float) * (size_t)(t->M * t->K));
        B[s] = malloc(sizeof(float) * (size_t)(t->K * t->N));
        C[s] = malloc(sizeof(float) * (size_t)(t->M * t->N));
        if (!A[s] || !B[s] || !C[s]) {
            for (int j = 0; j <= s; j++)
                free(A[j]), free(B[j]), free(C[j]);
            return cli_fail("tune", "out of memory");
        }
        fr_rng_fill_uniform(&rng, A[s], t->M * t->K, -1, 1);
        fr_rng_fill_uniform(&rng, B[s], t->K * t->N, -1, 1);
    }

    struct fr_gemm_blocking derived, best, cand;
    fr_gemm_blocking_derive(isa, fr_cpu_caches(), &derived);
    printf("cpu %s (%s), isa %s, %d threads\n", fr_cpu_model(), fr_cpu_signature(),
           fr_isa_name(isa), fr_threads_get());
    fr_gemm_blocking_set(isa, &derived);
    score(A, B, C, 1); /* warm the pool, the caches and the packing buffers */
    double s_derived = score(A, B, C, (int)reps), s_best = s_derived;
    best = derived;
    printf("derived   kc %4d mc %4d nc %5d: %.1f GFLOP/s (geometric mean of 4 shapes)\n",
           derived.kc, derived.mc, derived.nc, s_derived);
    static const int KC[] = {128, 192, 256, 384, 512}, NC[] = {256, 512, 1024, 2048, 4096},
                     MC[] = {60, 120, 252, 504};
    for (int axis = 0; axis < 3; axis++) {
        const int *v = axis == 0 ? KC : axis == 1 ? NC : MC;
        int nv = axis == 2 ? 4 : 5;
        struct fr_gemm_blocking base = best;
        for (int i = 0; i < nv; i++) {
            cand = base;
            if (axis == 0) cand.kc = v[i];
            if (axis == 1) cand.nc = v[i];
            if (axis == 2) cand.mc = v[i];
            if (fr_gemm_blocking_set(isa, &cand)) continue;
            fr_gemm_blocking_get(isa, &cand, NULL); /* rounded to the tile */
            if (cand.kc == base.kc && cand.mc == base.mc && cand.nc == base.nc) continue;
            double sc = score(A, B, C, (int)reps);
            int win = sc > s_best * (1 + margin);
            printf("candidate kc %4d mc %4d nc %5d: %.1f GFLOP/s%s\n", cand.kc, cand.mc, cand.nc,
                   sc, win ? "  (best so far)" : "");
            fflush(stdout);
            if (win) best = cand, s_best = sc;
        }
    }
    /* The winner measured again beside the derived one, interleaved three
     * times so both see the same load; it is kept only when the median of
     * its scores still beats the derived median by the margin (a winner
     * found during a burst of load would otherwise be written). */
    double sw[3], sd[3];
    int same = best.kc == derived.kc && best.mc == derived.mc && best.nc == derived.nc;
    for (int r = 0; r < 3; r++) {
        fr_gemm_blocking_set(isa, &best);
        sw[r] = score(A, B, C, (int)reps);
        fr_gemm_blocking_set(isa, &derived);
        sd[r] = same ? sw[r] : score(A, B, C, (int)reps);
    }
    qsort(sw, 3, sizeof(double), cmpd);
    qsort(sd, 3, sizeof(double), cmpd);
    double s_win = sw[1], s_der2 = sd[1];
    printf(
        "best      kc %4d mc %4d nc %5d: %.1f GFLOP/s; derived %.1f (%.0f%% of it), medians of 3 "
        "interleaved\n",
        best.kc, best.mc, best.nc, s_win, s_der2, 100 * s_der2 / s_win);
    if (!same && !(s_win > s_der2 * (1 + margin))) {
        printf("the winner does not beat the derived blocking on re-measure: keeping derived\n");
        best = derived;
    }
    for (int s = 0; s < NSHAPES; s++)
        free(A[s]), free(B[s]), free(C[s]);
    if (dry) return EXIT_OK;
    if (fr_mkdirs_for(path) || fr_gemm_tune_save(path, isa, &best))
        return cli_fail("tune", "%s", fr_last_error());
    printf("wrote %s\n", path);
    return EXIT_OK;
}
