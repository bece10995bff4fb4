/* test_gemm.c: fr_gemm against the naive fr_gemm_ref on every ISA path this
 * CPU supports (forced through fr_gemm_isa), all four transpose
 * combinations, sizes 1..~300 (primes, odd sizes, one past the register and
 * cache blocks), padded leading dimensions, alpha/beta variants, beta = 0
 * over a NaN-filled C, and padding of C left untouched. Also the ISA probe
 * and its FRUGAL_ISA cap, and 1 vs 2 threads. */
#include "check.h"
#include "kernels/gemm.h"

#include <float.h>
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
