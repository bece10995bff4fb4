/* gemm.c: BRING-UP version (naive loops) until the packed GEMM lands. */
#include "frugal/kernels.h"

#define GEMM_NAIVE(T, ACC)                                                                         \
    for (int64_t i = 0; i < M; i++)                                                                \
        for (int64_t j = 0; j < N; j++) {                                                          \
            ACC s = 0;                                                                             \
            for (int64_t k = 0; k < K; k++) {                                                      \
                T a = transA ? A[k * lda + i] : A[i * lda + k];                                    \
                T b = transB ? B[j * ldb + k] : B[k * ldb + j];                                    \
                s += (ACC)a * b;                                                                   \
            }                                                                                      \
            C[i * ldc + j] = (T)(alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]));             \
        }

void fr_gemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc) {
    GEMM_NAIVE(float, double)
}

void fr_gemm_f64(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha,
                 const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                 double *C, int64_t ldc) {
    GEMM_NAIVE(double, double)
}

void fr_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    fr_gemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
