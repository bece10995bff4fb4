/* csr.c: compressed sparse rows of a pruned weight and the sparse x dense
 * product Y = X W^T of a linear layer (prune.h).
 *
 * Batch 1 is a sparse dot product per output row (a gather of x). For a
 * batch, X is first packed transposed in tiles of W = 8..64 batch columns
 * (Xt[c][t], zero-padded to W), so each nonzero w[r][c] becomes one
 * W-wide multiply-add of a contiguous row Xt[c] into W accumulators that
 * stay in registers; each output row r is written once at the end (stride
 * ldy). Threads split the output rows. The loops have compile-time widths
 * and are built for AVX-512, AVX2 and baseline x86-64 (target_clones), like
 * the library's vector kernels.
 *
 * Whether this beats dense GEMM depends on density, batch and shape; the
 * rule in fr_sparse_preferred is read off bench/bench_sparse.c.
 */
#include "frugal/kernels.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(FR_NO_CLONES) && !defined(__clang_analyzer__)
#define SP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SP_CLONES
#endif

void fr_csr_matmul_ref(const struct fr_csr *A, int64_t B, const float *X, int64_t ldx, float *Y,
                       int64_t ldy) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < A->rows; r++) {
            double s = 0;
            for (int64_t j = A->rowptr[r]; j < A->rowptr[r + 1]; j++)
                s += (double)A->val[j] * X[b * ldx + A->col[j]];
            Y[b * ldy + r] = (float)s;
        }
}

/* ---- batch 1 ---- */

struct spmv_arg {
    const struct fr_csr *A;
    const float *x;
    float *y;
};

SP_CLONES static void spmv_task(void *arg, int64_t r0, int64_t r1, int tid) {
    const struct spmv_arg *a = arg;
    const int64_t *rp = a->A->rowptr;
    const int32_t *col = a->A->col;
    const float *val = a->A->val, *x = a->x;
    for (int64_t r = r0; r < r1; r++) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t j = rp[r], e = rp[r + 1];
        for (; j + 4 <= e; j += 4) {
            s0 += val[j] * x[col[j]];
            s1 += val[j + 1] * x[col[j + 1]];
            s2 += val[j + 2] * x[col[j + 2]];
            s3 += val[j + 3] * x[col[j + 3]];
        }
        for (; j < e; j++)
            s0 += val[j] * x[col[j]];
        a->y[r] = (s0 + s1) + (s2 + s3);
    }
}

/* ---- batched: tiles of W batch columns ---- */

struct spmm_arg {
    const struct fr_csr *A;
    const float *Xt; /* cols x W */
    float *Y;        /* this tile's first row: Y + b0 * ldy */
    int64_t ldy, tb, W;
};

/* One row kernel per tile width (K vectors of 8 floats), so the
 * accumulators are a fixed number of vector registers. GNU C vector types
 * keep the code portable: the baseline clone splits each into SSE halves. */
typedef float sp_v8 __attribute__((vector_size(32)));

#define SPMM_ROWS(K)                                                                               \
    SP_CLONES static void spmm_rows_##K(const struct spmm_arg *a, int64_t r0, int64_t r1) {        \
        const int64_t *rp = a->A->rowptr;                                                          \
        const int32_t *col = a->A->col;                                                            \
        const float *val = a->A->val;                                                              \
        const sp_v8 *Xt = (const sp_v8 *)a->Xt;                                                    \
        float buf[16][8 * K]; /* 16 rows' results, stored to Y 16 floats (a line) at a time */     \
        for (int64_t rb = r0; rb < r1; rb += 16) {                                                 \
            const int64_t nr = r1 - rb < 16 ? r1 - rb : 16;                                        \
            for (int64_t i = 0; i < nr; i++) {                                                     \
                const int64_t r = rb + i;                                                          \
                sp_v8 acc[K], acc2[K];                                                             \
                for (int k = 0; k < K; k++)                                                        \
                    acc[k] = acc2[k] = (sp_v8){0};                                                 \
                int64_t j = rp[r], e = rp[r + 1];                                                  \
                for (; j + 2 <= e; j += 2) {                                                       \
                    const sp_v8 *x0 = Xt + (int64_t)col[j] * K;                                    \
                    const sp_v8 *x1 = Xt + (int64_t)col[j + 1] * K;                                \
                    const float v0 = val[j], v1 = val[j + 1];                                      \
                    for (int k = 0; k < K; k++) {                                                  \
                        acc[k] += v0 * x0[k];                                                      \
                        acc2[k] += v1 * x1[k];                                                     \
                    }                                                                              \
                }                                                                                  \
                if (j < e) {                                                                       \
                    const sp_v8 *x0 = Xt + (int64_t)col[j] * K;                                    \
                    for (int k = 0; k < K; k++)                                                    \
                        acc[k] += val[j] * x0[k];                                                  \
                }                                                                                  \
                for (int k = 0; k < K; k++) {                                                      \
                    sp_v8 sum = acc[k] + acc2[k];                                                  \
                    memcpy(&buf[i][8 * k], &sum, sizeof sum);                                      \
                }                                                                                  \
            }                                                                                      \
            for (int64_t t = 0; t < a->tb; t++) {                                                  \
                float *y = a->Y + t * a->ldy + rb;                                                 \
                for (int64_t i = 0; i < nr; i++)                                                   \
                    y[i] = buf[i][t];                                                              \
            }                                                                                      \
        }                                                                                          \
    }
SPMM_ROWS(1)
SPMM_ROWS(2)
SPMM_ROWS(4)
SPMM_ROWS(8)

static void spmm_task(void *arg, int64_t r0, int64_t r1, int tid) {
    const struct spmm_arg *a = arg;
    switch (a->W) {
    case 8:
        spmm_rows_1(a, r0, r1);
        break;
    case 16:
        spmm_rows_2(a, r0, r1);
        break;
    case 32:
        spmm_rows_4(a, r0, r1);
        break;
    default:
        spmm_rows_8(a, r0, r1);
        break;
    }
}

struct pack_arg {
    const float *X;
    float *Xt;
    int64_t ldx, b0, tb, W;
};

/* Reads X a line (16 columns) at a time: a column walk with row stride
 * ldx would map every row to the same few cache sets. */
static void pack_task(void *arg, int64_t c0, int64_t c1, int tid) {
    const struct pack_arg *a = arg;
    for (int64_t cb = c0; cb < c1; cb += 16) {
        const int64_t nc = c1 - cb < 16 ? c1 - cb : 16;
        for (int64_t t = 0; t < a->tb; t++) {
            const float *x = a->X + (a->b0 + t) * a->ldx + cb;
            for (int64_t i = 0; i < nc; i++)
                a->Xt[(cb + i) * a->W + t] = x[i];
        }
        for (int64_t t = a->tb; t < a->W; t++)
            for (int64_t i = 0; i < nc; i++)
                a->Xt[(cb + i) * a->W + t] = 0.0f;
    }
}

/* Rows per task so a task holds a few thousand multiply-adds. */
static int64_t row_grain(const struct fr_csr *A, int64_t W) {
    int64_t per_row = A->nnz / A->rows + 1;
    int64_t g = 4096 / (per_row * W) + 1;
    return g;
}

void fr_csr_matmul(const struct fr_csr *A, int64_t B, const float *X, int64_t ldx, float *Y,
                   int64_t ldy) {
    if (B <= 0 || A->rows <= 0) return;
    if (B == 1) {
        struct spmv_arg a = {A, X, Y};
        fr_parallel_for(A->rows, row_grain(A, 1), spmv_task, &a);
        return;
    }
    int64_t Wmax = B > 32 ? 64 : B > 16 ? 32 : B > 8 ? 16 : 8;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t xt_bytes = ((size_t)(A->cols * Wmax) * sizeof(float) + 63) & ~(size_t)63;
    float *Xt = aligned_alloc(64, xt_bytes);
    if (!Xt) { /* no scratch: the plain loop still gives the answer */
        fr_csr_matmul_ref(A, B, X, ldx, Y, ldy);
        return;
    }
    for (int64_t b0 = 0; b0 < B; b0 += 64) {
        int64_t tb = B - b0 < 64 ? B - b0 : 64;
        int64_t W = tb > 32 ? 64 : tb > 16 ? 32 : tb > 8 ? 16 : 8;
        struct pack_arg pa = {X, Xt, ldx, b0, tb, W};
        fr_parallel_for(A->cols, 256, pack_task, &pa);
        struct spmm_arg a = {A, Xt, Y + b0 * ldy, ldy, tb, W};
        fr_parallel_for(A->rows, row_grain(A, W), spmm_task, &a);
    }
    free(Xt);
}

/* ---- choosing between dense and sparse ---- */

/* Measured single-threaded (bench_sparse, 768x768, 3072x768, 768x3072,
 * random masks; docs/sparsity.md): batch 1 breaks even at 90% sparsity
 * (dense/sparse 1.02-1.05) and wins 1.7-2.4x at 95%; batches 8 and 64 lose
 * at 50% (0.51-0.84) and win at 70% (1.07-1.73). The shape did not move the
 * crossover within the grid 50/70/80/90%, so the rule depends on density
 * and batch only. */
int fr_sparse_preferred(int64_t rows, int64_t cols, int64_t B, double density) {
    (void)rows;
    (void)cols;
    return B <= 1 ? density <= 0.10 : density <= 0.30;
}

int fr_spmat_init(struct fr_spmat *S, const float *W, int64_t rows, int64_t cols) {
    memset(S, 0, sizeof *S);
    if (rows < 1 || cols < 1)
        return fr_error(FR_EINVAL, "spmat: bad matrix %lld x %lld", (long long)rows,
                        (long long)cols);
    int64_t nnz = 0;
    for (int64_t i = 0; i < rows * cols; i++)
        nnz += W[i] != 0.0f;
    S->w = W;
    S->rows = rows;
    S->cols = cols;
    S->density = (double)nnz / ((double)rows * (double)cols);
    /* batch 1 is where sparse wins first; no CSR if it never would */
    if (fr_sparse_preferred(rows, cols, 1, S->density)) {
        int rc = fr_csr_from_dense(&S->csr, W, rows, cols, cols);
        if (rc) return rc;
        S->has_csr = 1;
    }
    return 0;
}

void fr_spmat_free(struct fr_spmat *S) {
    if (!S) return;
    fr_csr_free(&S->csr);
    memset(S, 0, sizeof *S);
}

int fr_spmat_matmul(const struct fr_spmat *S, int64_t B, const float *X, float *Y) {
    if (S->has_csr && fr_sparse_preferred(S->rows, S->cols, B, S->density)) {
        fr_csr_matmul(&S->csr, B, X, S->cols, Y, S->rows);
        return 1;
    }
    fr_gemm(0, 1, B, S->rows, S->cols, 1.0f, X, S->cols, S->w, S->cols, 0.0f, Y, S->rows);
    return 0;
}

/* ---- a model's convolutions on their CSR ---- */

int fr_sparse_attach(struct fr_sparse_model *s, struct fr_model *m, double max_density) {
    memset(s, 0, sizeof *s);
    s->m = m;
    struct fr_params *p = &m->params;
    s->csr = calloc((size_t)p->count, sizeof *s->csr);
    s->param = calloc((size_t)p->count, sizeof *s->param);
    if (!s->csr || !s->param) {
        fr_sparse_detach(s);
        return fr_error(FR_ENOMEM, "sparse: out of memory");
    }
    for (int i = 0; i < p->count; i++) {
        struct fr_param *it = &p->items[i];
        struct fr_tensor *t = it->t;
        if (!(it->flags & FR_PARAM_PRUNABLE) || t->ndim != 4) continue;
        int64_t n = fr_nelem(t), rows = t->ne[3], cols = n / rows, nnz = 0;
        const float *w = p->data + it->offset;
        for (int64_t j = 0; j < n; j++)
            nnz += w[j] != 0.0f;
        if ((double)nnz > max_density * (double)n) continue;
        int rc = fr_csr_from_dense(&s->csr[s->n], w, rows, cols, cols);
        if (rc) {
            fr_sparse_detach(s);
            return rc;
        }
        t->csr = &s->csr[s->n];
        s->param[s->n++] = i;
        s->nnz += nnz;
        s->dense += n;
    }
    return 0;
}

void fr_sparse_detach(struct fr_sparse_model *s) {
    for (int k = 0; k < s->n; k++) {
        s->m->params.items[s->param[k]].t->csr = NULL;
        fr_csr_free(&s->csr[k]);
    }
    free(s->csr);
    free(s->param);
    memset(s, 0, sizeof *s);
}
