/* csr.c: compressed sparse rows of a weight and the sparse x dense-rows
 * product the convolution's sparse path uses (kernels.h).
 *
 * fr_csr_rows computes Y[r] = sum of v X[c] over row r's nonzeros: each
 * nonzero is one multiply-add of a contiguous stretch of X's row c into
 * accumulators held in registers, 64 columns at a time (8 vectors of 8),
 * then 8 at a time, then one; each output row is written once. Built for
 * AVX-512, AVX2 and baseline x86-64 (target_clones).
 */
#include "frugal/kernels.h"
#include "frugal/status.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(FR_NO_CLONES) && !defined(__clang_analyzer__)
#define CSR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CSR_CLONES
#endif

int fr_csr_from_dense(struct fr_csr *A, const float *W, int64_t rows, int64_t cols, int64_t ldw) {
    memset(A, 0, sizeof *A);
    if (rows < 1 || cols < 1 || cols > INT32_MAX || ldw < cols)
        return fr_error(FR_EINVAL, "csr: bad matrix %lld x %lld (row stride %lld)", (long long)rows,
                        (long long)cols, (long long)ldw);
    int64_t nnz = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            nnz += W[r * ldw + c] != 0.0f;
    A->rowptr = malloc((size_t)(rows + 1) * sizeof *A->rowptr);
    A->col = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *A->col);
    A->val = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *A->val);
    if (!A->rowptr || !A->col || !A->val) {
        fr_csr_free(A);
        return fr_error(FR_ENOMEM, "csr: out of memory for %lld nonzeros", (long long)nnz);
    }
    int64_t q = 0;
    for (int64_t r = 0; r < rows; r++) {
        A->rowptr[r] = q;
        for (int64_t c = 0; c < cols; c++) {
            float v = W[r * ldw + c];
            if (v != 0.0f) {
                A->col[q] = (int32_t)c;
                A->val[q++] = v;
            }
        }
    }
    A->rowptr[rows] = q;
    A->rows = rows;
    A->cols = cols;
    A->nnz = nnz;
    return 0;
}

void fr_csr_free(struct fr_csr *A) {
    if (!A) return;
    free(A->rowptr);
    free(A->col);
    free(A->val);
    memset(A, 0, sizeof *A);
}

void fr_csr_rows_ref(const struct fr_csr *A, int64_t r0, int64_t r1, const float *X, int64_t ldx,
                     int64_t n, float *Y, int64_t ldy) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t j = A->rowptr[r]; j < A->rowptr[r + 1]; j++)
                s += (double)A->val[j] * X[A->col[j] * ldx + i];
            Y[r * ldy + i] = (float)s;
        }
}

typedef float csr_v8 __attribute__((vector_size(32), aligned(4)));

CSR_CLONES void fr_csr_rows(const struct fr_csr *A, int64_t r0, int64_t r1, const float *X,
                            int64_t ldx, int64_t n, float *Y, int64_t ldy) {
    const int64_t *rp = A->rowptr;
    const int32_t *col = A->col;
    const float *val = A->val;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t j0 = rp[r], j1 = rp[r + 1];
        float *y = Y + r * ldy;
        int64_t i = 0;
        for (; i + 64 <= n; i += 64) {
            csr_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
            for (int64_t j = j0; j < j1; j++) {
                const csr_v8 *x = (const csr_v8 *)(X + col[j] * ldx + i);
                const float v = val[j];
                a0 += v * x[0], a1 += v * x[1], a2 += v * x[2], a3 += v * x[3];
                a4 += v * x[4], a5 += v * x[5], a6 += v * x[6], a7 += v * x[7];
            }
            csr_v8 *o = (csr_v8 *)(y + i);
            o[0] = a0, o[1] = a1, o[2] = a2, o[3] = a3, o[4] = a4, o[5] = a5, o[6] = a6, o[7] = a7;
        }
        for (; i + 8 <= n; i += 8) {
            csr_v8 a = {0};
            for (int64_t j = j0; j < j1; j++)
                a += val[j] * *(const csr_v8 *)(X + col[j] * ldx + i);
            *(csr_v8 *)(y + i) = a;
        }
        for (; i < n; i++) {
            float a = 0;
            for (int64_t j = j0; j < j1; j++)
                a += val[j] * X[col[j] * ldx + i];
            y[i] = a;
        }
    }
}
