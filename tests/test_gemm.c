/* test_gemm.c: fr_gemm against the naive fr_gemm_ref on every ISA path this
 * CPU supports (forced through fr_gemm_isa), all four transpose
 * combinations, sizes 1..~300 (primes, odd sizes, one past the register and
 * cache blocks), padded leading dimensions, alpha/beta variants, beta = 0
 * over a NaN-filled C, and padding of C left untouched; the same sizes again
 * under a small blocking (every kc, mc and nc edge is crossed whatever
 * this CPU's caches give). Also the ISA probe and its FRUGAL_ISA cap, 1 vs
 * 2 threads, the blocking derived from other CPUs' caches, the tuning
 * file, and the pool's pinning (the caller's CPU mask restored). */
#define _GNU_SOURCE /* sched_getaffinity */
#include "check.h"
#include "frugal/report.h"
#include "kernels/gemm.h"

#include <float.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static struct fr_rng g_rng;

static float *randv(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    fr_rng_fill_uniform(&g_rng, p, n, -1, 1);
    return p;
}

/* One product on one ISA; returns nonzero on failure (also counted). */
static int one(enum fr_isa isa, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
               float beta, int pad) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t ra = ta ? K : M, rb = tb ? N : K; /* stored rows */
    float *A = randv(ra * lda), *B = randv(rb * ldb), *C = randv(M * ldc);
    float *R = malloc((size_t)(M * ldc) * sizeof(float));
    float *Aa = malloc((size_t)(ra * lda) * sizeof(float)),
          *Ba = malloc((size_t)(rb * ldb) * sizeof(float));
    float *Bd = malloc((size_t)(M * ldc) * sizeof(float));
    for (int64_t i = 0; i < ra * lda; i++)
        Aa[i] = fabsf(A[i]);
    for (int64_t i = 0; i < rb * ldb; i++)
        Ba[i] = fabsf(B[i]);
    if (beta == 0)
        for (int64_t i = 0; i < M * ldc; i++)
            C[i] = NAN; /* must not leak into the result */
    memcpy(R, C, (size_t)(M * ldc) * sizeof(float));
    fr_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    /* error bound per element: |alpha| (|A||B|)_ij + |beta C_ij|, times K eps */
    fr_gemm_ref(ta, tb, M, N, K, fabsf(alpha), Aa, lda, Ba, ldb, 0, Bd, ldc);
    float *C0 = malloc((size_t)(M * ldc) * sizeof(float));
    memcpy(C0, C, (size_t)(M * ldc) * sizeof(float));
    fr_gemm_isa(isa, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    int bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < M && !bad; i++)
        for (int64_t j = 0; j < ldc; j++) {
            int64_t x = i * ldc + j;
            if (j >= N) { /* padding: untouched (NaN stays NaN) */
                if (!(C[x] == C0[x] || (C[x] != C[x] && C0[x] != C0[x]))) bad = 1;
                continue;
            }
            double b = (double)Bd[x] + (beta != 0 ? fabs((double)beta * C0[x]) : 0);
            double tol = FLT_EPSILON * (double)(K + 8) * b + 1e-30;
            double d = fabs((double)C[x] - R[x]);
            if (!(d <= tol)) bad = 1; /* also catches NaN */
            if (d / tol > worst) worst = d / tol;
        }
    CHECK(!bad, "%s trans %d%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%d (worst err/tol %.3g)",
          fr_isa_name(isa), ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta, pad,
          worst);
    free(A), free(B), free(C), free(R), free(Aa), free(Ba), free(Bd), free(C0);
    return bad;
}

int main(void) {
    fr_rng_seed(&g_rng, 7);
    enum fr_isa hw = fr_cpu_isa_hw();
    CHECK(fr_cpu_isa() <= hw, "fr_cpu_isa %d above hardware %d", fr_cpu_isa(), hw);
    CHECK(!strcmp(fr_isa_name(FR_ISA_AVX2), "avx2"), "isa name");
    printf("hardware ISA: %s, fr_cpu_isa: %s\n", fr_isa_name(hw), fr_isa_name(fr_cpu_isa()));

    /* M, N, K: tiny, edge tiles around mr (4/6) and nr (8/16/64), primes,
     * small-M paths (M <= 8), K past kc (256), M past mc (120/144),
     * N past a 256-wide thread unit */
    static const int64_t sz[][3] = {
        {1, 1, 1},      {1, 7, 3},      {2, 3, 5},       {5, 17, 13},   {6, 64, 1},
        {7, 65, 31},    {1, 300, 211},  {8, 130, 77},    {3, 129, 400}, {9, 63, 64},
        {13, 129, 257}, {31, 97, 300},  {64, 64, 64},    {97, 1, 50},   {127, 255, 263},
        {257, 300, 17}, {300, 37, 259}, {150, 293, 130}, {16, 4200, 9},
    };
    static const float ab[][2] = {{1, 0}, {0.5f, 0}, {1.5f, -0.75f}, {1, 1}, {-2, 0.25f}};
    int nsz = (int)(sizeof sz / sizeof sz[0]);
    fr_threads_set(2);
    for (int isa = FR_ISA_SCALAR; isa <= (int)hw; isa++)
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < nsz; s++) {
                int v = (s + t + isa) % 5, pad = (s + t) % 3 == 0 ? 0 : 1 + (s * 7 + t) % 5;
                one((enum fr_isa)isa, t >> 1, t & 1, sz[s][0], sz[s][1], sz[s][2], ab[v][0],
                    ab[v][1], pad);
            }
    /* the same under a small blocking: several kc steps, mc blocks and nc
     * blocks in every size above K, M or N of about 50 */
    for (int isa = FR_ISA_SCALAR; isa <= (int)hw; isa++) {
        struct fr_gemm_blocking keep, small = {.kc = 48, .mc = 13, .nc = 100};
        fr_gemm_blocking_get((enum fr_isa)isa, &keep, NULL);
        CHECK(fr_gemm_blocking_set((enum fr_isa)isa, &small) == 0, "set small blocking");
        struct fr_gemm_blocking got;
        const char *src;
        fr_gemm_blocking_get((enum fr_isa)isa, &got, &src);
        CHECK(got.kc == 48 && got.mc >= 13 && got.mc < 13 + 16 && got.nc >= 100 &&
                  got.nc < 100 + 64 && !strcmp(src, "tuned"),
              "%s: blocking set to kc %d mc %d nc %d (%s)", fr_isa_name((enum fr_isa)isa), got.kc,
              got.mc, got.nc, src);
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < nsz; s++) {
                int v = (s + t) % 5;
                one((enum fr_isa)isa, t >> 1, t & 1, sz[s][0], sz[s][1], sz[s][2], ab[v][0],
                    ab[v][1], s % 2);
            }
        struct fr_gemm_blocking bad = {.kc = 8, .mc = 1, .nc = 1};
        CHECK(fr_gemm_blocking_set((enum fr_isa)isa, &bad) != 0, "kc 8 refused");
        CHECK(fr_gemm_blocking_set((enum fr_isa)isa, &keep) == 0, "blocking restored");
    }
    /* the blocking derived from other CPUs' caches keeps its promises: the
     * A micro-panel in a quarter of L1, the B block in half of L2 (unless
     * at the floor of 4 tiles), tiles whole */
    {
        static const long long caches[][2] = {{48 << 10, 2 << 20},   {48 << 10, 1 << 20},
                                              {32 << 10, 256 << 10}, {32 << 10, 512 << 10},
                                              {4 << 10, 16 << 10},   {1 << 20, 64 << 20}};
        for (int isa = FR_ISA_SCALAR; isa <= (int)hw; isa++)
            for (int c = 0; c < 6; c++) {
                struct fr_cpu_caches cc = {caches[c][0], caches[c][1], 8 << 20, 1, 1, "test"};
                struct fr_gemm_blocking b;
                fr_gemm_blocking_derive((enum fr_isa)isa, &cc, &b);
                int mr = isa == FR_ISA_SCALAR ? 4 : 6, nr = isa == FR_ISA_SCALAR ? 8
                                                            : isa == FR_ISA_AVX2 ? 16
                                                                                 : 64;
                int ok = b.kc >= 64 && b.kc <= 512 && b.kc % 32 == 0 && b.nc % nr == 0 &&
                         b.mc % mr == 0 && b.nc >= 4 * nr && b.mc >= 4 * mr &&
                         (b.kc == 64 || (long long)mr * b.kc * 4 <= cc.l1d / 4) &&
                         (b.nc == 4 * nr || (long long)b.kc * b.nc * 4 <= cc.l2 / 2);
                CHECK(ok, "%s, L1d %lld L2 %lld: kc %d mc %d nc %d", fr_isa_name((enum fr_isa)isa),
                      cc.l1d, cc.l2, b.kc, b.mc, b.nc);
            }
    }
    /* the tuning file: a saved line is found again for this CPU; another
     * CPU's line, garbage and an out-of-range line are not used */
    {
        char path[900];
        snprintf(path, sizeof path, "%s/tune/sub/gemm-tune.txt", check_tmpdir());
        CHECK(fr_gemm_tune_lookup(path, FR_ISA_AVX2, &(struct fr_gemm_blocking){0}) == FR_ENOTFOUND,
              "no file: not found");
        struct fr_gemm_blocking w = {.kc = 192, .mc = 96, .nc = 768}, r = {0};
        CHECK(fr_mkdirs_for(path) == 0, "mkdir: %s", fr_last_error());
        CHECK(fr_gemm_tune_save(path, FR_ISA_AVX2, &w) == 0, "save: %s", fr_last_error());
        struct fr_gemm_blocking w2 = {.kc = 320, .mc = 60, .nc = 512};
        CHECK(fr_gemm_tune_save(path, FR_ISA_SCALAR, &w2) == 0, "save 2: %s", fr_last_error());
        FILE *f = fopen(path, "a");
        if (f) {
            fprintf(f, "avx2 kc 64 mc 6 nc 64 l1d 1 l2 2 sig 0/0/0 model Other CPU\n");
            fprintf(f, "this line is garbage\n");
            fprintf(f, "avx2 kc 99999 mc 6 nc 64 l1d %lld l2 %lld sig %s model %s\n",
                    fr_cpu_caches()->l1d, fr_cpu_caches()->l2, fr_cpu_signature(), fr_cpu_model());
            fclose(f);
        }
        CHECK(fr_gemm_tune_lookup(path, FR_ISA_AVX2, &r) == 0 && r.kc == 192 && r.mc == 96 &&
                  r.nc == 768,
              "saved avx2 line read back: kc %d mc %d nc %d", r.kc, r.mc, r.nc);
        CHECK(fr_gemm_tune_lookup(path, FR_ISA_SCALAR, &r) == 0 && r.kc == 320,
              "saved scalar line read back: kc %d", r.kc);
        CHECK(fr_gemm_tune_lookup(path, FR_ISA_AVX512, &r) == FR_ENOTFOUND, "no avx512 line");
        /* saving again replaces this CPU's line and keeps the others */
        w.kc = 224;
        CHECK(fr_gemm_tune_save(path, FR_ISA_AVX2, &w) == 0, "save again");
        CHECK(fr_gemm_tune_lookup(path, FR_ISA_AVX2, &r) == 0 && r.kc == 224, "replaced: %d", r.kc);
        int lines = 0, other = 0;
        char line[600];
        if ((f = fopen(path, "r"))) {
            while (fgets(line, sizeof line, f)) {
                lines++;
                other += strstr(line, "model Other CPU") != NULL;
            }
            fclose(f);
        }
        CHECK(lines == 4 && other == 1, "file keeps the other CPU's line: %d lines", lines);
    }
    /* the pool pins its threads and gives the caller its CPU mask back */
    {
        cpu_set_t before, during, after;
        fr_threads_set(1);
        CHECK(sched_getaffinity(0, sizeof before, &before) == 0, "getaffinity");
        fr_threads_set(2);
        CHECK(sched_getaffinity(0, sizeof during, &during) == 0, "getaffinity");
        const char *pin = getenv("FRUGAL_PIN");
        if (CPU_COUNT(&before) >= 2 && !(pin && !strcmp(pin, "0")))
            CHECK(CPU_COUNT(&during) == 1, "caller pinned to one CPU while the pool has two");
        fr_threads_set(1);
        CHECK(sched_getaffinity(0, sizeof after, &after) == 0 && CPU_EQUAL(&before, &after),
              "caller's CPU mask restored after the pool went back to one thread");
    }
    /* one thread gives the same numbers as two, bit for bit */
    for (int isa = FR_ISA_SCALAR; isa <= (int)hw; isa++) {
        int64_t M = 200, N = 333, K = 301;
        float *A = randv(M * K), *B = randv(K * N), *C1 = randv(M * N), *C2 = randv(M * N);
        fr_threads_set(1);
        fr_gemm_isa((enum fr_isa)isa, 0, 1, M, N, K, 1, A, K, B, K, 0, C1, N);
        fr_threads_set(2);
        fr_gemm_isa((enum fr_isa)isa, 0, 1, M, N, K, 1, A, K, B, K, 0, C2, N);
        CHECK(!memcmp(C1, C2, (size_t)(M * N) * sizeof(float)), "%s: 1 vs 2 threads differ",
              fr_isa_name((enum fr_isa)isa));
        free(A), free(B), free(C1), free(C2);
    }
    /* degenerate: K = 0 scales C by beta; alpha = 0 never reads A, B */
    for (int isa = FR_ISA_SCALAR; isa <= (int)hw; isa++) {
        float C[6] = {1, 2, 3, 4, 5, 6}, Cn[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
        fr_gemm_isa((enum fr_isa)isa, 0, 0, 2, 3, 0, 1, NULL, 1, NULL, 3, 2, C, 3);
        CHECK(C[0] == 2 && C[5] == 12, "K=0 scales by beta");
        fr_gemm_isa((enum fr_isa)isa, 0, 0, 2, 3, 4, 0, NULL, 4, NULL, 3, 0, Cn, 3);
        CHECK(Cn[0] == 0 && Cn[5] == 0, "alpha=0 beta=0 zeroes a NaN C");
    }
    /* the public entry point agrees with the reference too */
    {
        int64_t M = 33, N = 45, K = 57;
        float *A = randv(M * K), *B = randv(K * N), *C = randv(M * N), *R = randv(M * N);
        fr_gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C, N);
        fr_gemm_ref(0, 0, M, N, K, 1, A, K, B, N, 0, R, N);
        double d = 0;
        for (int64_t i = 0; i < M * N; i++)
            d = fmax(d, fabs((double)C[i] - R[i]));
        CHECK(d < 1e-4, "fr_gemm vs ref: %g", d);
        free(A), free(B), free(C), free(R);
    }
    return check_report("test_gemm");
}
