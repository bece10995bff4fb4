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

#include <stddef.h>
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

/* The precision fr_gemm multiplies in (process-wide; default f32). In
 * FR_GEMM_BF16 every fr_gemm call rounds op(A) and op(B) to bfloat16
 * (nearest even; subnormals flush to zero) and accumulates the products in
 * f32; alpha, beta and C stay f32. It runs on AMX-BF16 tiles where the CPU
 * has them, else on AVX512-BF16 (fr_cpu_bf16). This is the multiply of
 * mixed-precision training: weights, gradients and optimizer state stay f32
 * (master weights), only the GEMMs' inputs are rounded. Set it while no
 * GEMM runs. FR_EINVAL when the CPU has neither instruction set (the
 * precision then stays f32). */
enum fr_gemm_precision { FR_GEMM_F32 = 0, FR_GEMM_BF16 = 1 };
int fr_gemm_precision_set(enum fr_gemm_precision p);
enum fr_gemm_precision fr_gemm_precision_get(void);
/* The reference for FR_GEMM_BF16: inputs rounded exactly as the fast paths
 * round them, products summed in double (the hardware sums in f32 and
 * flushes subnormal results to zero). */
void fr_gemm_bf16_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc);
/* C (M x N) = alpha * A @ W^T + beta * C for bf16 weights W stored N x K
 * (row stride ldw), read in place: the bf16-precision product (A rounded
 * to bf16, f32 sums) without converting W. For inference on bf16
 * checkpoints in bf16 precision. FR_EINVAL (nothing computed) where
 * fr_cpu_bf16() is none. fr_gemm_bf16w_ref: the reference, sums in double. */
int fr_gemm_bf16w(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const uint16_t *W, int64_t ldw, float beta, float *C, int64_t ldc);
void fr_gemm_bf16w_ref(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                       const uint16_t *W, int64_t ldw, float beta, float *C, int64_t ldc);

/* f32 -> bf16 bits as the fast paths round (nearest even, subnormal inputs
 * to signed zero, NaN stays NaN). */
uint16_t fr_bf16_round(float x);

/* Cache blocking of the packed GEMM for one ISA's kernel: kc (depth of a
 * packed panel: the mr x kc A micro-panel stays in L1), mc (rows of A packed
 * at once) and nc (columns of the packed B block, kc x nc, meant to stay in
 * L2). fr_gemm uses, per ISA, the blocking a tuning file gave (see
 * fr_gemm_tune_load) or else the one derived from the caches
 * (fr_gemm_blocking_derive). */
struct fr_gemm_blocking {
    int kc, mc, nc;
};
/* The blocking fr_gemm uses for isa now, and where it came from ("derived"
 * or "tuned"). */
void fr_gemm_blocking_get(enum fr_isa isa, struct fr_gemm_blocking *b, const char **source);
/* What the cache sizes c give for isa's kernel (pure: no global state). */
void fr_gemm_blocking_derive(enum fr_isa isa, const struct fr_cpu_caches *c,
                             struct fr_gemm_blocking *b);
/* Replaces isa's blocking (call when no GEMM is running: the tuner and the
 * tests do). FR_EINVAL unless 16 <= kc <= 4096, 1 <= mc <= 8192,
 * 1 <= nc <= 65536; mc and nc are rounded up to the kernel's tile. */
int fr_gemm_blocking_set(enum fr_isa isa, const struct fr_gemm_blocking *b);

/* The per-user tuning file (`frugal tune` writes it): FRUGAL_TUNE_FILE, else
 * $XDG_CACHE_HOME/frugal/gemm-tune.txt, else ~/.cache/frugal/gemm-tune.txt.
 * FRUGAL_TUNE_FILE=none reads none (the derived blocking). */
int fr_gemm_tune_path(char *buf, size_t cap);
/* The blocking the file at path holds for this CPU (signature, model name
 * and cache sizes all equal) and isa: 0, or FR_ENOTFOUND (no file, no
 * matching or valid line; never an error message). */
int fr_gemm_tune_lookup(const char *path, enum fr_isa isa, struct fr_gemm_blocking *out);
/* Writes (atomically) b as this CPU's line for isa, keeping the other
 * lines. The directory must exist (fr_mkdirs_for makes it). */
int fr_gemm_tune_save(const char *path, enum fr_isa isa, const struct fr_gemm_blocking *b);

/* ---- sparse weights (CSR) ----
 *
 * Compressed sparse rows of a row-major matrix [rows x cols]: a linear
 * layer's weight [out x in] (frugal ne {in, out}) or a conv weight
 * [cout x cin*k*k] (ne {k, k, cin, cout}). A parameter tensor's `csr`
 * (tensor.h) may point at one: fr_conv2d then runs that weight's sparse
 * kernel when no gradient is recorded (inference), methods/prune's
 * fr_sparse_attach sets it up. */
struct fr_csr {
    int64_t rows, cols, nnz;
    int64_t *rowptr; /* rows + 1 */
    int32_t *col;    /* nnz column indices, ascending within a row */
    float *val;      /* nnz values */
};

/* ---- small dense linear algebra (linalg.c), double precision ---- */
/* The eigenvalues of the symmetric n x n matrix a (row-major; destroyed) by
 * cyclic Jacobi rotations, ascending into ev[n]. For measurement-sized
 * matrices (a few hundred rows). */
void fr_sym_eigenvalues(double *a, int64_t n, double *ev);
/* log |det a| of the n x n matrix a (destroyed), LU with partial pivoting;
 * -inf when a is singular. */
double fr_log_abs_det(double *a, int64_t n);

/* Builds the CSR of the nonzeros of W (rows x cols, row stride ldw).
 * FR_EINVAL on bad sizes (cols must fit int32), FR_ENOMEM. */
int fr_csr_from_dense(struct fr_csr *A, const float *W, int64_t rows, int64_t cols, int64_t ldw);
void fr_csr_free(struct fr_csr *A);

/* Rows [r0, r1) of Y = A X for a dense X [cols x n] (row stride ldx): each
 * nonzero (r, c, v) adds v X[c][0..n) to Y[r][0..n) (row stride ldy; rows
 * without a nonzero become 0). The conv's sparse path: X is im2col's
 * matrix. fr_csr_rows_ref is the plain loop (double accumulation). */
void fr_csr_rows(const struct fr_csr *A, int64_t r0, int64_t r1, const float *X, int64_t ldx,
                 int64_t n, float *Y, int64_t ldy);
void fr_csr_rows_ref(const struct fr_csr *A, int64_t r0, int64_t r1, const float *X, int64_t ldx,
                     int64_t n, float *Y, int64_t ldy);

#ifdef __cplusplus
}
#endif
#endif
