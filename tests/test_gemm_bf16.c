/* test_gemm_bf16.c: fr_gemm's bf16 precision. fr_bf16_round against
 * hand-worked bit patterns (ties to even, subnormals, NaN, overflow); each
 * bf16 path this CPU has (AMX-BF16, AVX512-BF16; forced through
 * fr_gemm_bf16_run) against fr_gemm_bf16_ref: K = 1 products bit for bit
 * (a product of two bf16 is exact in f32, so this checks the rounding of
 * every input, specials included; only a subnormal product may read 0,
 * as both instruction sets flush subnormal results), then all four transpose combinations
 * at edge sizes around the 32 x 32 tile, the 32-deep k chunk and the
 * cache blocks, padded leading dimensions, alpha/beta, beta = 0 over a
 * NaN C, C's padding untouched; 1 vs 2 threads bit for bit; the result
 * within bf16's error of the f32 product; and the public switch
 * (fr_gemm_precision_set) refusing cleanly where the CPU has no bf16. */
#include "check.h"
#include "frugal/report.h"
#include "kernels/gemm.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>

static struct fr_rng g_rng;

static float *randv(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    fr_rng_fill_uniform(&g_rng, p, n, -1, 1);
    return p;
}

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void rounding(void) {
    static const struct {
        uint32_t in;
        uint16_t out;
    } t[] = {
        {0x3f800000u, 0x3f80}, /* 1.0 exact */
        {0x3f808000u, 0x3f80}, /* tie, even below: stays */
        {0x3f818000u, 0x3f82}, /* tie, odd below: rounds up */
        {0x3f808001u, 0x3f81}, /* above the tie */
        {0x3f807fffu, 0x3f80}, /* below the tie */
        {0xbf818000u, 0xbf82}, /* negative tie */
        {0x00000001u, 0x0000}, /* smallest subnormal: zero */
        {0x807fffffu, 0x8000}, /* largest negative subnormal: -0 */
        {0x00800000u, 0x0080}, /* smallest normal stays */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to inf */
        {0x7f800000u, 0x7f80}, /* inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x7f800001u, 0x7fc0}, /* signalling NaN: quiet NaN */
        {0xffc00000u, 0xffc0}, /* quiet NaN */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint16_t got = fr_bf16_round(bits_f(t[i].in));
        CHECK(got == t[i].out, "bf16 round 0x%08x: 0x%04x, want 0x%04x", t[i].in, got, t[i].out);
    }
}

/* K = 1: every output is one product of two rounded inputs, exact in f32:
 * the path must agree with the reference bit for bit (NaN with NaN). */
static void exact_products(enum fr_bf16_hw hw) {
    enum { M = 70, N = 45 };
    float A[M], B[N], C[M * N], R[M * N];
    static const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0xbf818000u, 0x00000001u,
                                       0x807fffffu, 0x00800000u, 0x7f7fffffu, 0x7f800000u,
                                       0xff800000u, 0x7fc00000u, 0x7f800001u, 0x00000000u,
                                       0x80000000u, 0x3f7fffffu, 0x477fe000u, 0x477ff000u};
    int ns = (int)(sizeof special / sizeof special[0]);
    for (int i = 0; i < M; i++) {
        uint32_t r = (uint32_t)fr_rng_u64(&g_rng);
        A[i] = i < ns ? bits_f(special[i]) : bits_f((r & 0x3fffffffu) | 0x30000000u);
    }
    for (int j = 0; j < N; j++) {
        uint32_t r = (uint32_t)fr_rng_u64(&g_rng);
        B[j] = j < ns ? bits_f(special[ns - 1 - j]) : bits_f((r & 0xbfffffffu) | 0x38000000u);
    }
    for (int ta = 0; ta < 2; ta++) /* with K = 1 both layouts of A are the same bytes */
        for (int tb = 0; tb < 2; tb++) {
            fr_gemm_bf16_run(hw, ta, tb, M, N, 1, 1.0f, A, ta ? M : 1, B, tb ? 1 : N, 0.0f, C, N);
            fr_gemm_bf16_ref(ta, tb, M, N, 1, 1.0f, A, ta ? M : 1, B, tb ? 1 : N, 0.0f, R, N);
            int bad = -1;
            for (int x = 0; x < M * N && bad < 0; x++)
                if (memcmp(&C[x], &R[x], sizeof(float)) && !(C[x] != C[x] && R[x] != R[x]) &&
                    !(C[x] == 0 && fabsf(R[x]) < FLT_MIN)) /* hardware flushes subnormal sums */
                    bad = x;
            CHECK(bad < 0, "%s trans %d%d: product %d (%a * %a) = %a, reference %a",
                  fr_bf16_name(hw), ta, tb, bad, bad < 0 ? 0.0 : (double)A[bad / N],
                  bad < 0 ? 0.0 : (double)B[bad % N], bad < 0 ? 0.0 : (double)C[bad],
                  bad < 0 ? 0.0 : (double)R[bad]);
        }
}

static double bf16v(float x) {
    uint32_t u = (uint32_t)fr_bf16_round(x) << 16;
    return (double)bits_f(u);
}

/* One product; the tolerance is f32 summation error over |A||B| of the
 * rounded inputs. Also checks the result is within bf16's error of the
 * f32 product. */
static void one(enum fr_bf16_hw hw, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                float beta, int pad) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t ra = ta ? K : M, rb = tb ? N : K;
    float *A = randv(ra * lda), *B = randv(rb * ldb), *C = randv(M * ldc);
    float *R = malloc((size_t)(M * ldc) * sizeof(float)), *C0 = malloc((size_t)(M * ldc) * 4);
    float *F = malloc((size_t)(M * ldc) * sizeof(float));
    if (beta == 0)
        for (int64_t i = 0; i < M * ldc; i++)
            C[i] = NAN;
    memcpy(C0, C, (size_t)(M * ldc) * sizeof(float));
    memcpy(R, C, (size_t)(M * ldc) * sizeof(float));
    memcpy(F, C, (size_t)(M * ldc) * sizeof(float));
    fr_gemm_bf16_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    fr_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, F, ldc);
    fr_gemm_bf16_run(hw, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    int bad = 0, loose = 0;
    double worst = 0;
    for (int64_t i = 0; i < M && !bad; i++)
        for (int64_t j = 0; j < ldc; j++) {
            int64_t x = i * ldc + j;
            if (j >= N) {
                if (!(C[x] == C0[x] || (C[x] != C[x] && C0[x] != C0[x]))) bad = 1;
                continue;
            }
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += fabs(bf16v(ta ? A[k * lda + i] : A[i * lda + k]) *
                          bf16v(tb ? B[j * ldb + k] : B[k * ldb + j]));
            double b = fabs(alpha) * s + (beta != 0 ? fabs((double)beta * C0[x]) : 0);
            double tol = FLT_EPSILON * (double)(K + 8) * b + 1e-30;
            double d = fabs((double)C[x] - R[x]);
            if (!(d <= tol)) bad = 1;
            if (d / tol > worst) worst = d / tol;
            /* each input within 2^-9 relative: a product within ~2^-8 */
            if (!(fabs((double)C[x] - F[x]) <= 0x1p-7 * b + 1e-30)) loose = 1;
        }
    CHECK(!bad, "%s trans %d%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%d (worst err/tol %.3g)",
          fr_bf16_name(hw), ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta, pad,
          worst);
    CHECK(!loose,
          "%s trans %d%d M=%lld N=%lld K=%lld: farther from the f32 product than bf16 "
          "rounding allows",
          fr_bf16_name(hw), ta, tb, (long long)M, (long long)N, (long long)K);
    free(A), free(B), free(C), free(R), free(C0), free(F);
}

int main(void) {
    fr_rng_seed(&g_rng, 11);
    rounding();
    enum fr_bf16_hw hw = fr_cpu_bf16_hw();
    printf("bf16 hardware: %s, fr_cpu_bf16: %s\n", fr_bf16_name(hw), fr_bf16_name(fr_cpu_bf16()));
    struct fr_gemm_blocking bk;
    fr_gemm_bf16_blocking(&bk);
    CHECK(bk.kc % 32 == 0 && bk.mc % 32 == 0 && bk.nc % 32 == 0 && bk.kc >= 128,
          "bf16 blocking kc %d mc %d nc %d", bk.kc, bk.mc, bk.nc);
    printf("bf16 blocking: kc %d mc %d nc %d\n", bk.kc, bk.mc, bk.nc);

    /* edges of the 32 x 32 tile and 32-deep chunk, k past kc, M past mc,
     * N past nc, skinny and small-M shapes */
    int64_t kbig = bk.kc + 45, mbig = bk.mc + 33, nbig = bk.nc + 31;
    const int64_t sz[][3] = {
        {1, 1, 1},      {1, 7, 3},      {2, 33, 5},     {31, 31, 31},   {32, 32, 32},
        {33, 33, 33},   {5, 17, 64},    {64, 64, 65},   {7, 100, 300},  {100, 7, 97},
        {40, 70, kbig}, {mbig, 40, 50}, {20, nbig, 40}, {129, 200, 96}, {16, 300, 9},
    };
    static const float ab[][2] = {{1, 0}, {0.5f, 0}, {1.5f, -0.75f}, {1, 1}, {-2, 0.25f}};
    int nsz = (int)(sizeof sz / sizeof sz[0]);
    fr_threads_set(2);
    for (int h = FR_BF16_AVX512; h <= (int)hw; h++) {
        exact_products((enum fr_bf16_hw)h);
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < nsz; s++) {
                int v = (s + t + h) % 5, pad = (s + t) % 3 == 0 ? 0 : 1 + (s * 7 + t) % 5;
                one((enum fr_bf16_hw)h, t >> 1, t & 1, sz[s][0], sz[s][1], sz[s][2], ab[v][0],
                    ab[v][1], pad);
            }
        /* 1 thread and 2 threads: the same bits */
        int64_t M = 150, N = 333, K = 301;
        float *A = randv(M * K), *B = randv(K * N), *C1 = randv(M * N), *C2 = randv(M * N);
        fr_threads_set(1);
        fr_gemm_bf16_run((enum fr_bf16_hw)h, 0, 1, M, N, K, 1, A, K, B, K, 0, C1, N);
        fr_threads_set(2);
        fr_gemm_bf16_run((enum fr_bf16_hw)h, 0, 1, M, N, K, 1, A, K, B, K, 0, C2, N);
        CHECK(!memcmp(C1, C2, (size_t)(M * N) * sizeof(float)), "%s: 1 vs 2 threads differ",
              fr_bf16_name((enum fr_bf16_hw)h));
        free(A), free(B), free(C1), free(C2);
    }
    /* bf16 weights read in place: against the reference, and against the
     * f32-input path on the same values (W's bf16 values widened to f32
     * round back to themselves, so both paths see the same inputs) */
    {
        static const int64_t ws[][3] = {{1, 7, 3},      {17, 33, 31},  {40, 100, 130},
                                        {100, 65, 128}, {33, 300, 47}, {64, 64, 500}};
        for (size_t c = 0; c < sizeof ws / sizeof ws[0]; c++) {
            int64_t M = ws[c][0], N = ws[c][1], K = ws[c][2], ldw = K + (int64_t)c % 3;
            float *A = randv(M * K), *Wf = randv(N * ldw), *C = randv(M * N), *R = randv(M * N);
            float *C2 = malloc((size_t)(M * N) * sizeof(float));
            uint16_t *W = malloc((size_t)(N * ldw) * sizeof(uint16_t));
            for (int64_t i = 0; i < N * ldw; i++) {
                W[i] = fr_bf16_round(Wf[i]);
                uint32_t u = (uint32_t)W[i] << 16;
                memcpy(&Wf[i], &u, sizeof u);
            }
            float beta = c % 2 ? 0.5f : 0.0f;
            memcpy(R, C, (size_t)(M * N) * sizeof(float));
            memcpy(C2, C, (size_t)(M * N) * sizeof(float));
            fr_gemm_bf16w_ref(M, N, K, 1.0f, A, K, W, ldw, beta, R, N);
            int rc = fr_gemm_bf16w(M, N, K, 1.0f, A, K, W, ldw, beta, C, N);
            if (hw == FR_BF16_NONE || fr_cpu_bf16() == FR_BF16_NONE) {
                CHECK(rc != 0, "bf16w without bf16 hardware must refuse");
            } else {
                double d = 0, b = 0;
                for (int64_t i = 0; i < M * N; i++)
                    d = fmax(d, fabs((double)C[i] - R[i])), b = fmax(b, fabs((double)R[i]));
                CHECK(rc == 0 && d <= FLT_EPSILON * (K + 8) * (b + 1),
                      "bf16w %lldx%lldx%lld: %g from the reference", (long long)M, (long long)N,
                      (long long)K, d);
                for (int h = FR_BF16_AVX512; h <= (int)hw; h++) {
                    float *C3 = malloc((size_t)(M * N) * sizeof(float));
                    memcpy(C3, C2, (size_t)(M * N) * sizeof(float));
                    fr_gemm_bf16_run((enum fr_bf16_hw)h, 0, 1, M, N, K, 1.0f, A, K, Wf, ldw, beta,
                                     C3, N);
                    float *C4 = malloc((size_t)(M * N) * sizeof(float));
                    memcpy(C4, C2, (size_t)(M * N) * sizeof(float));
                    fr_gemm_bf16w_run((enum fr_bf16_hw)h, M, N, K, 1.0f, A, K, W, ldw, beta, C4, N);
                    CHECK(!memcmp(C3, C4, (size_t)(M * N) * sizeof(float)),
                          "%s: bf16 weights read in place differ from the same weights in f32 "
                          "(%lldx%lldx%lld)",
                          fr_bf16_name((enum fr_bf16_hw)h), (long long)M, (long long)N,
                          (long long)K);
                    free(C3), free(C4);
                }
            }
            free(A), free(Wf), free(C), free(R), free(C2), free(W);
        }
    }
    /* the public switch */
    CHECK(fr_gemm_precision_get() == FR_GEMM_F32, "default precision f32");
    int rc = fr_gemm_precision_set(FR_GEMM_BF16);
    if (fr_cpu_bf16() == FR_BF16_NONE) {
        CHECK(rc != 0 && fr_gemm_precision_get() == FR_GEMM_F32 && strstr(fr_last_error(), "bf16"),
              "bf16 refused without the hardware: rc %d, %s", rc, fr_last_error());
    } else {
        CHECK(rc == 0 && fr_gemm_precision_get() == FR_GEMM_BF16, "bf16 precision set: %s",
              fr_last_error());
        int64_t M = 45, N = 77, K = 120;
        float *A = randv(M * K), *B = randv(K * N), *C = randv(M * N), *R = randv(M * N);
        fr_gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C, N);
        fr_gemm_bf16_ref(0, 0, M, N, K, 1, A, K, B, N, 0, R, N);
        double d = 0;
        for (int64_t i = 0; i < M * N; i++)
            d = fmax(d, fabs((double)C[i] - R[i]));
        CHECK(d < 1e-4, "fr_gemm in bf16 vs the bf16 reference: %g", d);
        free(A), free(B), free(C), free(R);
        CHECK(fr_gemm_precision_set(FR_GEMM_F32) == 0 && fr_gemm_precision_get() == FR_GEMM_F32,
              "back to f32");
    }
    CHECK(fr_gemm_precision_set((enum fr_gemm_precision)7) != 0, "unknown precision refused");
    return check_report("test_gemm_bf16");
}
