/* gemm_avx2.c: AVX2+FMA micro-kernels for fr_gemm (see gemm.h).
 *
 * Register tile MR x NR = 6 x 16: 12 ymm accumulators, 2 ymm of B and one
 * broadcast per k step (15 of the 16 ymm registers), the classic Haswell
 * shape. Specialised for m = 1..6 rows; edge columns go through a small
 * stack tile. Only called after fr_cpu_isa() reported at least AVX2.
 * The small-M dot kernel mirrors the AVX-512 one with 8-lane vectors.
 */
#include "gemm.h"

#include <immintrin.h>

#define A2_MR 6
#define A2_NV 2
#define A2_NR (8 * A2_NV)

static inline __attribute__((always_inline)) void
ukr_body(const int m, int64_t kc, const float *restrict a, const float *restrict b, int64_t ldb,
         float *restrict c, int64_t ldc, float alpha, float beta, int64_t n) {
    __m256 acc[A2_MR][A2_NV];
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < A2_NV; v++)
            acc[i][v] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        __m256 bv[A2_NV];
#pragma GCC unroll 4
        for (int v = 0; v < A2_NV; v++)
            bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
        for (int i = 0; i < A2_MR; i++) {
            if (i >= m) break;
            __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
            for (int v = 0; v < A2_NV; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += A2_MR;
        b += ldb;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++) {
        if (i >= m) break;
        float *p = c + i * ldc;
        if (n == A2_NR) {
#pragma GCC unroll 4
            for (int v = 0; v < A2_NV; v++) {
                __m256 r = _mm256_mul_ps(acc[i][v], va);
                if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p + 8 * v), r);
                _mm256_storeu_ps(p + 8 * v, r);
            }
        } else {
            float t[A2_NR];
#pragma GCC unroll 4
            for (int v = 0; v < A2_NV; v++)
                _mm256_storeu_ps(t + 8 * v, _mm256_mul_ps(acc[i][v], va));
            for (int64_t j = 0; j < n; j++)
                p[j] = beta != 0.0f ? t[j] + beta * p[j] : t[j];
        }
    }
}

#define UKR(M_)                                                                                    \
    static void ukr_##M_(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,        \
                         int64_t ldc, float alpha, float beta, int64_t n) {                        \
        ukr_body(M_, kc, a, b, ldb, c, ldc, alpha, beta, n);                                       \
    }
UKR(1)
UKR(2)
UKR(3)
UKR(4)
UKR(5)
UKR(6)

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __attribute__((always_inline)) void dot_body(const int M_, const int J_, int64_t K,
                                                           float alpha, const float *A, int64_t lda,
                                                           const float *B, int64_t ldb, float beta,
                                                           float *C, int64_t ldc) {
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < M_; i++)
#pragma GCC unroll 4
        for (int j = 0; j < J_; j++)
            acc[i][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 bv[4];
#pragma GCC unroll 4
        for (int j = 0; j < J_; j++)
            bv[j] = _mm256_loadu_ps(B + j * ldb + k);
#pragma GCC unroll 4
        for (int i = 0; i < M_; i++) {
            __m256 av = _mm256_loadu_ps(A + i * lda + k);
#pragma GCC unroll 4
            for (int j = 0; j < J_; j++)
                acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < M_; i++)
#pragma GCC unroll 4
        for (int j = 0; j < J_; j++) {
            float s = hsum256(acc[i][j]);
            for (int64_t t = k; t < K; t++)
                s += A[i * lda + t] * B[j * ldb + t];
            s *= alpha;
            float *p = C + i * ldc + j;
            *p = beta != 0.0f ? s + beta * *p : s;
        }
}

#define DOT_ROWS(M_, J_)                                                                           \
    static void dot_##M_(int64_t n, int64_t K, float alpha, const float *A, int64_t lda,           \
                         const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {         \
        int64_t j = 0;                                                                             \
        for (; j + J_ <= n; j += J_)                                                               \
            dot_body(M_, J_, K, alpha, A, lda, B + j * ldb, ldb, beta, C + j, ldc);                \
        for (; j < n; j++)                                                                         \
            dot_body(M_, 1, K, alpha, A, lda, B + j * ldb, ldb, beta, C + j, ldc);                 \
    }
DOT_ROWS(1, 4)
DOT_ROWS(2, 4)
DOT_ROWS(3, 3)
DOT_ROWS(4, 3)

static void dot(int64_t m, int64_t n, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    static void (*const tab[5])(int64_t, int64_t, float, const float *, int64_t, const float *,
                                int64_t, float, float *,
                                int64_t) = {NULL, dot_1, dot_2, dot_3, dot_4};
    while (m > 0) {
        int64_t r = m > 4 ? 4 : m;
        tab[r](n, K, alpha, A, lda, B, ldb, beta, C, ldc);
        A += r * lda;
        C += r * ldc;
        m -= r;
    }
}

/* ---- packing: 8 x 8 transposes in registers ---- */

/* r[k] <- column k of the 8 x 8 block r[0..7] (rows). */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
        r[4 + i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
    }
}

void fr_gemm_pack_a6_avx2(const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                          int64_t kc, float *dst) {
    for (int64_t p = 0; p < mm; p += 6, dst += 6 * kc) {
        int rows = mm - p < 6 ? (int)(mm - p) : 6;
        const float *src[6];
        for (int i = 0; i < 6; i++)
            src[i] = A + (i0 + p + (i < rows ? i : 0)) * lda + pc;
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 r[8];
            for (int i = 0; i < 6; i++)
                r[i] = i < rows ? _mm256_loadu_ps(src[i] + k) : _mm256_setzero_ps();
            r[6] = r[7] = _mm256_setzero_ps();
            transpose8(r);
            for (int j = 0; j < 8; j++) {
                float *d = dst + (k + j) * 6;
                _mm_storeu_ps(d, _mm256_castps256_ps128(r[j]));
                _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(r[j], 1));
            }
        }
        for (; k < kc; k++)
            for (int i = 0; i < 6; i++)
                dst[k * 6 + i] = i < rows ? src[i][k] : 0.0f;
    }
}

void fr_gemm_pack_at6_avx2(const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                           int64_t kc, float *dst) {
    for (int64_t p = 0; p < mm; p += 6, dst += 6 * kc) {
        int rows = mm - p < 6 ? (int)(mm - p) : 6;
        __m256i mask =
            _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const float *src = A + pc * lda + i0 + p;
        for (int64_t k = 0; k < kc; k++) {
            __m256 v = _mm256_maskload_ps(src + k * lda, mask); /* zeros past rows */
            _mm_storeu_ps(dst + k * 6, _mm256_castps256_ps128(v));
            _mm_storel_pi((__m64 *)(dst + k * 6 + 4), _mm256_extractf128_ps(v, 1));
        }
    }
}

void fr_gemm_pack_bt_avx2(const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t j0,
                          int64_t nn, int nr, float *dst) {
    for (int64_t j = 0; j < nr; j += 8) {
        int rows = nn - j >= 8 ? 8 : nn - j > 0 ? (int)(nn - j) : 0;
        const float *src[8];
        for (int i = 0; i < 8; i++)
            src[i] = B + (j0 + j + (i < rows ? i : 0)) * ldb + pc;
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = i < rows ? _mm256_loadu_ps(src[i] + k) : _mm256_setzero_ps();
            transpose8(r);
            for (int t = 0; t < 8; t++)
                _mm256_storeu_ps(dst + (k + t) * nr + j, r[t]);
        }
        for (; k < kc; k++)
            for (int i = 0; i < 8; i++)
                dst[k * nr + j + i] = i < rows ? src[i][k] : 0.0f;
    }
}

const struct fr_gemm_kernel fr_gemm_kernel_avx2 = {
    .isa = FR_ISA_AVX2,
    .mr = A2_MR,
    .nr = A2_NR,
    .ukr = {NULL, ukr_1, ukr_2, ukr_3, ukr_4, ukr_5, ukr_6},
    .dot = dot,
    .pack_a = fr_gemm_pack_a6_avx2,
    .pack_at = fr_gemm_pack_at6_avx2,
    .pack_bt = fr_gemm_pack_bt_avx2,
};
