/* matvec.h: y = x W^T for a few rows of x (decode-time matrix-vector
 * products), with W in f32, f16 or bf16 and f32 everything else.
 *
 * y[b*ldy + r] = sum_i W[r*cols + i] * x[b*ldx + i] for r in [r0, r1),
 * b in [0, B). Each weight row is read once for all B rows of x, which is
 * what makes batched decoding cheaper per token. AVX-512 and AVX2 kernels
 * (intrinsics, chosen by fr_cpu_isa) and a plain C one; fr_matvec_ref is the
 * double-accumulating reference the tests use.
 */
#ifndef FRUGAL_MATVEC_H
#define FRUGAL_MATVEC_H

#include <stdint.h>

typedef void (*fr_matvec_fn)(const void *W, int64_t cols, const float *x, int64_t ldx, int B,
                             float *y, int64_t ldy, int64_t r0, int64_t r1);

/* The kernel for weight dtype dt (FR_F32, FR_F16, FR_BF16) on this CPU. */
fr_matvec_fn fr_matvec_kernel(int dt);
/* Same, for an explicit ISA (enum fr_isa), for tests; NULL if unsupported. */
fr_matvec_fn fr_matvec_kernel_isa(int dt, int isa);
void fr_matvec_ref(int dt, const void *W, int64_t cols, const float *x, int64_t ldx, int B,
                   float *y, int64_t ldy, int64_t r0, int64_t r1);
/* Threaded y = x W^T over all rows (splits rows over the pool when big). */
void fr_matvec(int dt, const void *W, int64_t rows, int64_t cols, const float *x, int64_t ldx,
               int B, float *y, int64_t ldy);

/* Several matrices with the same cols and the same x (q/k/v, or w1/w3):
 * y_p = x W_p^T for each part, threaded over their rows together, so one
 * pool hand-off instead of one per matrix and the threads' shares are
 * balanced across the parts. */
struct fr_matvec_part {
    int dt;
    const void *W;
    int64_t rows;
    float *y;
    int64_t ldy;
};
void fr_matvec_multi(int n, const struct fr_matvec_part *parts, int64_t cols, const float *x,
                     int64_t ldx, int B);

/* vecmat: y[c] = sum_{r < rows} a[r] * W[r*cols + c] for c in [0, cols),
 * f32 W (row-major, rows x cols), y overwritten (rows == 0 gives zeros).
 * The attention value sum over a KV cache: the weights stay in registers
 * over all rows instead of a load and store of y per row. */
typedef void (*fr_vecmat_fn)(const float *W, int64_t rows, int64_t cols, const float *a, float *y);
/* The kernel for this CPU; for an explicit ISA (NULL if unsupported). */
fr_vecmat_fn fr_vecmat_kernel(void);
fr_vecmat_fn fr_vecmat_kernel_isa(int isa);
void fr_vecmat_ref(const float *W, int64_t rows, int64_t cols, const float *a, float *y);

/* f16 / bf16 element to float. */
float fr_f16_to_f32(uint16_t h);
float fr_bf16_to_f32(uint16_t h);
uint16_t fr_f32_to_f16(float f);
uint16_t fr_f32_to_bf16(float f);

void fr_matvec_avx512_f32(const void *, int64_t, const float *, int64_t, int, float *, int64_t,
                          int64_t, int64_t);
void fr_matvec_avx512_f16(const void *, int64_t, const float *, int64_t, int, float *, int64_t,
                          int64_t, int64_t);
void fr_matvec_avx512_bf16(const void *, int64_t, const float *, int64_t, int, float *, int64_t,
                           int64_t, int64_t);
void fr_matvec_avx2_f32(const void *, int64_t, const float *, int64_t, int, float *, int64_t,
                        int64_t, int64_t);
void fr_matvec_avx2_f16(const void *, int64_t, const float *, int64_t, int, float *, int64_t,
                        int64_t, int64_t);
void fr_matvec_avx2_bf16(const void *, int64_t, const float *, int64_t, int, float *, int64_t,
                         int64_t, int64_t);
void fr_vecmat_avx512(const float *, int64_t, int64_t, const float *, float *);
void fr_vecmat_avx2(const float *, int64_t, int64_t, const float *, float *);

#endif
