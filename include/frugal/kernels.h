/* kernels.h: the compute kernels that the ops (and benchmarks) call
 * directly: GEMM (the CPU feature probe they dispatch on is core's cpu.h).
 *
 * fr_gemm computes C = alpha * op(A) @ op(B) + beta * C in row-major
 * storage (BLAS-style, PyTorch layout): op(A) is M x K, op(B) is K x N, C is
 * M x N; lda/ldb/ldc are row strides in elements; transA means A is stored
 * K x M. With beta == 0, C is not read (NaNs in C do not propagate).
 * Threaded over the pool (threads.h). fr_gemm_ref is the naive triple loop
 * (double accumulation) the tests compare against.
 */
#ifndef FRUGAL_KERNELS_H
#define FRUGAL_KERNELS_H

#include <stdint.h>

#include "frugal/cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

void fr_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void fr_gemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc);
/* The same contract in double (scalar; used by the f64 op path). */
void fr_gemm_f64(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha,
                 const double *A, int64_t lda, const double *B, int64_t ldb, double beta, double *C,
                 int64_t ldc);

#ifdef __cplusplus
}
#endif
#endif
