/* gemm.h: private interface between the GEMM driver (gemm.c) and its
 * per-ISA micro-kernels (gemm_avx2.c, gemm_avx512.c).
 *
 * A micro-kernel computes one MR x NR tile of C from a packed A micro-panel
 * (kc steps of MR floats, rows interleaved: a[k*MR + i]) and a B micro-panel
 * (kc rows of NR floats, row stride ldb: NR when packed, the caller's ldb
 * when B is read in place), then writes C = alpha * tile + beta * C for the
 * top-left m x n of the tile (beta == 0: C is not read). The m rows are a
 * compile-time choice: ukr[m] for m = 1..MR, so edge tiles in M waste no
 * FMAs; n < NR stores through a mask. B loads are always NR wide, so the
 * caller keeps the B panel readable (zero padded) to NR columns.
 */
#ifndef FRUGAL_GEMM_PRIVATE_H
#define FRUGAL_GEMM_PRIVATE_H

#include "frugal/kernels.h"
#include "frugal/threads.h"

#include <stdint.h>

#define FR_GEMM_MAX_MR 16

typedef void (*fr_gemm_ukr_fn)(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                               int64_t ldc, float alpha, float beta, int64_t n);

/* Small-M kernel for B stored N x K (transB): C[i, j] = alpha * dot(A_i, B_j)
 * + beta * C[i, j] for i < m (m <= 8), j in [0, n); A is m x K contiguous
 * (row stride lda), B rows j have stride ldb. */
typedef void (*fr_gemm_dot_fn)(int64_t m, int64_t n, int64_t K, float alpha, const float *A,
                               int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                               int64_t ldc);

/* SIMD packing (NULL: the plain-C loops in gemm.c). pack_a: rows [i0, i0+mm)
 * of a row-major A (M x K), columns [pc, pc+kc), into mr-row panels
 * (pack_at: the same from A stored K x M);
 * pack_bt: columns [j0, j0+nn) of op(B) = B^T with B stored N x K, into one
 * kc x nr panel, zero padded past nn. */
typedef void (*fr_gemm_pack_a_fn)(const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                                  int64_t kc, float *dst);
typedef void (*fr_gemm_pack_bt_fn)(const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t j0,
                                   int64_t nn, int nr, float *dst);
void fr_gemm_pack_a6_avx2(const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                          int64_t kc, float *dst);
void fr_gemm_pack_at6_avx2(const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                           int64_t kc, float *dst);
void fr_gemm_pack_bt_avx2(const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t j0,
                          int64_t nn, int nr, float *dst);

struct fr_gemm_kernel {
    enum fr_isa isa;
    int mr, nr; /* register tile (the cache blocking is fr_gemm_blocking_get's) */
    fr_gemm_ukr_fn ukr[FR_GEMM_MAX_MR + 1];
    fr_gemm_dot_fn dot;        /* NULL: small M with transB goes through packing */
    fr_gemm_pack_a_fn pack_a;  /* A row-major; for mr == 6 only */
    fr_gemm_pack_a_fn pack_at; /* A stored K x M (transA); for mr == 6 only */
    fr_gemm_pack_bt_fn pack_bt;
};

/* 1 when b is inside the ranges fr_gemm_blocking_set accepts. */
static inline int fr_gemm_blocking_valid(const struct fr_gemm_blocking *b) {
    return b->kc >= 16 && b->kc <= 4096 && b->mc >= 1 && b->mc <= 8192 && b->nc >= 1 &&
           b->nc <= 65536;
}
/* One read of the tuning file: found[i] = 1 and out[i] = the last valid
 * line of this CPU for ISA i (i = enum fr_isa). Never an error. */
void fr_gemm_tune_read(const char *path, struct fr_gemm_blocking out[3], int found[3]);

extern const struct fr_gemm_kernel fr_gemm_kernel_avx2;
extern const struct fr_gemm_kernel fr_gemm_kernel_avx512;

/* fr_gemm with the ISA forced (tests run every path the CPU supports).
 * isa must be supported by this CPU; the plain-C path always is. */
void fr_gemm_isa(enum fr_isa isa, int transA, int transB, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc);

/* C = beta * C (beta == 0: zeros, C not read): a product with K = 0 or
 * alpha = 0. */
void fr_gemm_scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc);

/* How a blocked GEMM is cut for the pool: row slabs when M > N (*split_m),
 * else column slabs, one per thread (balanced; each unit re-packs the
 * other operand, so more units cost packing time), rounded up to the
 * register tile (mr rows or nr columns); one thread below min_flops, where
 * a fork-join costs more than it saves. Returns the threads to start. */
static inline int fr_gemm_units(int64_t M, int64_t N, int64_t K, int mr, int nr, double min_flops,
                                int *split_m, int64_t *unit, int64_t *nunits) {
    int nt = fr_threads_get();
    if (2.0 * (double)M * (double)N * (double)K < min_flops) nt = 1;
    *split_m = M > N;
    int64_t len = *split_m ? M : N, step = *split_m ? mr : nr;
    *unit = ((len + nt - 1) / nt + step - 1) / step * step;
    *nunits = (len + *unit - 1) / *unit;
    return *nunits < nt ? (int)*nunits : nt;
}

/* The calling thread's packing buffer, at least bytes long, 64-byte
 * aligned, kept between calls (NULL when out of memory). */
void *fr_gemm_thread_buffer(size_t bytes);

/* bf16 precision (gemm_amx.c, built when the compiler has the AMX and
 * AVX512-BF16 intrinsics: FR_BF16_KERNELS). hw is FR_BF16_AMX or
 * FR_BF16_AVX512 and at most fr_cpu_bf16_hw(); tests force each path. */
void fr_gemm_bf16_run(enum fr_bf16_hw hw, int transA, int transB, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float beta, float *C, int64_t ldc);
/* The same with B = W^T, W bf16 stored N x K (row stride ldw), read in place. */
void fr_gemm_bf16w_run(enum fr_bf16_hw hw, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const uint16_t *W, int64_t ldw, float beta,
                       float *C, int64_t ldc);
/* Its cache blocking (kc a multiple of 32; mc and nc of 32), derived from
 * the caches: the 32 x kc bf16 A panel in half of L1, the kc x nc B block
 * in half of L2, the mc x kc A block in a quarter. */
void fr_gemm_bf16_blocking(struct fr_gemm_blocking *b);

#endif
