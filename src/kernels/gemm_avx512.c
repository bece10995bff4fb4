/* gemm_avx512.c: AVX-512 micro-kernels for fr_gemm (see gemm.h).
 *
 * Register tile MR x NR = 6 x 64: 24 zmm accumulators, 4 zmm of B and one
 * broadcast of A per k step, so each k step is 24 independent FMAs against
 * 10 loads; enough chains in flight to cover the FMA latency on both FMA
 * pipes. The kernel body is one always-inline template specialised for
 * m = 1..6 rows, so edge rows cost no wasted FMAs; edge columns store
 * through a mask. Only called after fr_cpu_isa() reported AVX-512.
 *
 * The small-M "dot" kernel serves C = A @ B^T with M <= 8 (a linear layer
 * at decode time): no packing, each output is a dot product over K of an A
 * row and a B row, several B rows at once so each A vector load feeds
 * several FMAs.
 */
#include "gemm.h"

#include <immintrin.h>

#define A5_MR 6
#define A5_NV 4
#define A5_NR (16 * A5_NV)

static inline __attribute__((always_inline)) void
ukr_body(const int m, int64_t kc, const float *restrict a, const float *restrict b, int64_t ldb,
         float *restrict c, int64_t ldc, float alpha, float beta, int64_t n) {
    __m512 acc[A5_MR][A5_NV];
#pragma GCC unroll 16
    for (int i = 0; i < A5_MR; i++)
#pragma GCC unroll 8
        for (int v = 0; v < A5_NV; v++)
            acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        __m512 bv[A5_NV];
#pragma GCC unroll 8
        for (int v = 0; v < A5_NV; v++)
            bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
        for (int i = 0; i < A5_MR; i++) {
            if (i >= m) break;
            __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 8
            for (int v = 0; v < A5_NV; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += A5_MR;
        b += ldb;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (n == A5_NR) {
#pragma GCC unroll 16
        for (int i = 0; i < A5_MR; i++) {
            if (i >= m) break;
#pragma GCC unroll 8
            for (int v = 0; v < A5_NV; v++) {
                float *p = c + i * ldc + 16 * v;
                __m512 r = _mm512_mul_ps(acc[i][v], va);
                if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), r);
                _mm512_storeu_ps(p, r);
            }
        }
        return;
    }
    __mmask16 mk[A5_NV];
#pragma GCC unroll 8
    for (int v = 0; v < A5_NV; v++) {
        int64_t rem = n - 16 * v;
        mk[v] = rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1);
    }
#pragma GCC unroll 16
    for (int i = 0; i < A5_MR; i++) {
        if (i >= m) break;
#pragma GCC unroll 8
        for (int v = 0; v < A5_NV; v++) {
            float *p = c + i * ldc + 16 * v;
            __m512 r = _mm512_mul_ps(acc[i][v], va);
            if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[v], p), r);
            _mm512_mask_storeu_ps(p, mk[v], r);
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

/* Dot kernel: M_ rows of A against J_ rows of B, over K in 16-lane steps
 * (the tail through a mask). */
static inline __attribute__((always_inline)) void dot_body(const int M_, const int J_, int64_t K,
                                                           float alpha, const float *A, int64_t lda,
                                                           const float *B, int64_t ldb, float beta,
                                                           float *C, int64_t ldc) {
    __m512 acc[8][8];
#pragma GCC unroll 8
    for (int i = 0; i < M_; i++)
#pragma GCC unroll 8
        for (int j = 0; j < J_; j++)
            acc[i][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 bv[8];
#pragma GCC unroll 8
        for (int j = 0; j < J_; j++)
            bv[j] = _mm512_loadu_ps(B + j * ldb + k);
#pragma GCC unroll 8
        for (int i = 0; i < M_; i++) {
            __m512 av = _mm512_loadu_ps(A + i * lda + k);
#pragma GCC unroll 8
            for (int j = 0; j < J_; j++)
                acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    if (k < K) {
        __mmask16 mk = (__mmask16)((1u << (K - k)) - 1);
        __m512 bv[8];
#pragma GCC unroll 8
        for (int j = 0; j < J_; j++)
            bv[j] = _mm512_maskz_loadu_ps(mk, B + j * ldb + k);
#pragma GCC unroll 8
        for (int i = 0; i < M_; i++) {
            __m512 av = _mm512_maskz_loadu_ps(mk, A + i * lda + k);
#pragma GCC unroll 8
            for (int j = 0; j < J_; j++)
                acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < M_; i++)
#pragma GCC unroll 8
        for (int j = 0; j < J_; j++) {
            float s = alpha * _mm512_reduce_add_ps(acc[i][j]);
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
DOT_ROWS(1, 8)
DOT_ROWS(2, 8)
DOT_ROWS(3, 6)
DOT_ROWS(4, 5)
DOT_ROWS(5, 4)
DOT_ROWS(6, 4)
DOT_ROWS(7, 3)
DOT_ROWS(8, 3)

static void dot(int64_t m, int64_t n, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    static void (*const tab[9])(int64_t, int64_t, float, const float *, int64_t, const float *,
                                int64_t, float, float *, int64_t) = {
        NULL, dot_1, dot_2, dot_3, dot_4, dot_5, dot_6, dot_7, dot_8};
    while (m > 0) {
        int64_t r = m > 8 ? 8 : m;
        tab[r](n, K, alpha, A, lda, B, ldb, beta, C, ldc);
        A += r * lda;
        C += r * ldc;
        m -= r;
    }
}

const struct fr_gemm_kernel fr_gemm_kernel_avx512 = {
    .isa = FR_ISA_AVX512,
    .mr = A5_MR,
    .nr = A5_NR,
    .ukr = {NULL, ukr_1, ukr_2, ukr_3, ukr_4, ukr_5, ukr_6},
    .dot = dot,
    .pack_a = fr_gemm_pack_a6_avx2, /* AVX-512 CPUs have AVX2 */
    .pack_at = fr_gemm_pack_at6_avx2,
    .pack_bt = fr_gemm_pack_bt_avx2,
};
