/* matvec.c: matvec and vecmat dispatch, the plain-C and reference kernels,
 * the threaded driver, and f16/bf16 conversions. */
#include "matvec.h"

#include <string.h>

#include "frugal/kernels.h"
#include "frugal/tensor.h"
#include "frugal/threads.h"

float fr_f16_to_f32(uint16_t h) {
    _Float16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

float fr_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t fr_f32_to_f16(float x) {
    _Float16 f = (_Float16)x;
    uint16_t h;
    memcpy(&h, &f, 2);
    return h;
}

uint16_t fr_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static inline float wget(int dt, const void *W, int64_t i) {
    switch (dt) {
    case FR_F16:
        return fr_f16_to_f32(((const uint16_t *)W)[i]);
    case FR_BF16:
        return fr_bf16_to_f32(((const uint16_t *)W)[i]);
    default:
        return ((const float *)W)[i];
    }
}

void fr_matvec_ref(int dt, const void *W, int64_t cols, const float *x, int64_t ldx, int B,
                   float *y, int64_t ldy, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (int64_t i = 0; i < cols; i++)
                s += (double)wget(dt, W, r * cols + i) * x[b * ldx + i];
            y[b * ldy + r] = (float)s;
        }
}

/* Plain C: 8 partial sums per row so the compiler can vectorise without
 * reassociating. */
#define PLAIN(NAME, WT, CONV)                                                                      \
    static void NAME(const void *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,    \
                     int64_t ldy, int64_t r0, int64_t r1) {                                        \
        for (int64_t r = r0; r < r1; r++) {                                                        \
            const WT *w = (const WT *)W + r * cols;                                                \
            for (int b = 0; b < B; b++) {                                                          \
                const float *xb = x + b * ldx;                                                     \
                float acc[8] = {0};                                                                \
                int64_t i = 0;                                                                     \
                for (; i + 8 <= cols; i += 8)                                                      \
                    for (int j = 0; j < 8; j++)                                                    \
                        acc[j] += CONV(w[i + j]) * xb[i + j];                                      \
                float s = 0;                                                                       \
                for (int j = 0; j < 8; j++)                                                        \
                    s += acc[j];                                                                   \
                for (; i < cols; i++)                                                              \
                    s += CONV(w[i]) * xb[i];                                                       \
                y[b * ldy + r] = s;                                                                \
            }                                                                                      \
        }                                                                                          \
    }
#define ID(v) (v)
PLAIN(matvec_plain_f32, float, ID)
PLAIN(matvec_plain_f16, uint16_t, fr_f16_to_f32)
PLAIN(matvec_plain_bf16, uint16_t, fr_bf16_to_f32)

fr_matvec_fn fr_matvec_kernel_isa(int dt, int isa) {
    int k = dt == FR_F16 ? 1 : dt == FR_BF16 ? 2 : 0;
    static const fr_matvec_fn T[3][3] = {
        {matvec_plain_f32, matvec_plain_f16, matvec_plain_bf16},
        {fr_matvec_avx2_f32, fr_matvec_avx2_f16, fr_matvec_avx2_bf16},
        {fr_matvec_avx512_f32, fr_matvec_avx512_f16, fr_matvec_avx512_bf16},
    };
    if (isa < 0 || isa > (int)fr_cpu_isa()) return NULL;
    return T[isa][k];
}

fr_matvec_fn fr_matvec_kernel(int dt) {
    return fr_matvec_kernel_isa(dt, (int)fr_cpu_isa());
}

void fr_vecmat_ref(const float *W, int64_t rows, int64_t cols, const float *a, float *y) {
    for (int64_t c = 0; c < cols; c++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++)
            s += (double)a[r] * W[r * cols + c];
        y[c] = (float)s;
    }
}

/* Plain C: y accumulated row by row (vectorises over columns). */
static void vecmat_plain(const float *W, int64_t rows, int64_t cols, const float *a, float *y) {
    for (int64_t c = 0; c < cols; c++)
        y[c] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            y[c] += a[r] * W[r * cols + c];
}

fr_vecmat_fn fr_vecmat_kernel_isa(int isa) {
    static const fr_vecmat_fn T[3] = {vecmat_plain, fr_vecmat_avx2, fr_vecmat_avx512};
    if (isa < 0 || isa > (int)fr_cpu_isa()) return NULL;
    return T[isa];
}

fr_vecmat_fn fr_vecmat_kernel(void) {
    return fr_vecmat_kernel_isa((int)fr_cpu_isa());
}

struct mv_job {
    fr_matvec_fn fn;
    const void *W;
    int64_t cols, ldx, ldy;
    const float *x;
    float *y;
    int B;
};

static void mv_task(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const struct mv_job *j = vp;
    j->fn(j->W, j->cols, j->x, j->ldx, j->B, j->y, j->ldy, r0, r1);
}

struct mvm_job {
    const struct fr_matvec_part *parts;
    int n, B;
    int64_t cols, ldx;
    const float *x;
};

/* rows [r0, r1) of the parts laid end to end */
static void mvm_task(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const struct mvm_job *j = vp;
    int64_t base = 0;
    for (int p = 0; p < j->n && base < r1; p++) {
        const struct fr_matvec_part *q = &j->parts[p];
        int64_t lo = r0 > base ? r0 - base : 0, hi = r1 - base < q->rows ? r1 - base : q->rows;
        if (lo < hi)
            fr_matvec_kernel(q->dt)(q->W, j->cols, j->x, j->ldx, j->B, q->y, q->ldy, lo, hi);
        base += q->rows;
    }
}

void fr_matvec_multi(int n, const struct fr_matvec_part *parts, int64_t cols, const float *x,
                     int64_t ldx, int B) {
    struct mvm_job j = {parts, n, B, cols, ldx, x};
    int64_t rows = 0;
    for (int p = 0; p < n; p++)
        rows += parts[p].rows;
    int64_t grain = (1 << 16) / (cols > 0 ? cols : 1) + 1;
    fr_parallel_for(rows, grain, mvm_task, &j);
}

void fr_matvec(int dt, const void *W, int64_t rows, int64_t cols, const float *x, int64_t ldx,
               int B, float *y, int64_t ldy) {
    struct mv_job j = {fr_matvec_kernel(dt), W, cols, ldx, ldy, x, y, B};
    /* below ~64K weights per thread the wake-up costs more than it saves */
    int64_t grain = (1 << 16) / (cols > 0 ? cols : 1) + 1;
    fr_parallel_for(rows, grain, mv_task, &j);
}
