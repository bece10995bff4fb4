/* matvec_avx512.c: AVX-512 matvec kernels (see matvec.h, matvec_tmpl.h).
 *
 * For 4 or more rows of x (batched decoding) a 4x4 kernel takes 4 weight
 * rows against 4 rows of x at once: 16 accumulators, 8 loads per 16 FMAs,
 * and one transposing reduction of all 16 (12 shuffles) instead of 16
 * horizontal sums, which dominated for short rows (dim 288). The remaining
 * rows and sequences go through the simple kernel of matvec_tmpl.h. */
#include <immintrin.h>
#include <string.h>

#include "matvec.h"

#define VF __m512
#define VW 16
#define VZERO() _mm512_setzero_ps()
#define VLOADX(p) _mm512_loadu_ps(p)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define VADD(a, b) _mm512_add_ps(a, b)
#define NAME_LINKAGE static

/* Sums each of v[0..16) into one vector: lane 4L + f holds the sum of
 * v[4f + L] (a 4x4 transpose of the natural order). */
static inline __m512 reduce16(const __m512 *v) {
    __m512 t[8], u[4];
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
    for (int j = 0; j < 4; j++)
        u[j] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * j], t[2 * j + 1], 0x88),
                             _mm512_shuffle_f32x4(t[2 * j], t[2 * j + 1], 0xDD));
    __m512 w0 = _mm512_add_ps(_mm512_unpacklo_ps(u[0], u[1]), _mm512_unpackhi_ps(u[0], u[1]));
    __m512 w1 = _mm512_add_ps(_mm512_unpacklo_ps(u[2], u[3]), _mm512_unpackhi_ps(u[2], u[3]));
    __m512d a = _mm512_castps_pd(w0), b = _mm512_castps_pd(w1);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
}

/* 4 weight rows x 4 rows of x; v[4*row + b] accumulates (row, b). */
#define MV4X4(NAME4, WT, LOADW, SCALARW)                                                           \
    static void NAME4(const WT *W, int64_t cols, const float *x, int64_t ldx, float *y,            \
                      int64_t ldy, int64_t r) {                                                    \
        __m512 v[16];                                                                              \
        for (int k = 0; k < 16; k++) v[k] = _mm512_setzero_ps();                                   \
        const WT *w0 = W + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;            \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= cols; i += 16) {                                                          \
            _mm_prefetch((const char *)(w0 + i) + 512, _MM_HINT_T0);                               \
            _mm_prefetch((const char *)(w1 + i) + 512, _MM_HINT_T0);                               \
            _mm_prefetch((const char *)(w2 + i) + 512, _MM_HINT_T0);                               \
            _mm_prefetch((const char *)(w3 + i) + 512, _MM_HINT_T0);                               \
            __m512 a0 = LOADW(w0 + i), a1 = LOADW(w1 + i), a2 = LOADW(w2 + i),                     \
                   a3 = LOADW(w3 + i);                                                             \
            for (int b = 0; b < 4; b++) {                                                          \
                __m512 xb = _mm512_loadu_ps(x + b * ldx + i);                                      \
                v[0 + b] = _mm512_fmadd_ps(a0, xb, v[0 + b]);                                      \
                v[4 + b] = _mm512_fmadd_ps(a1, xb, v[4 + b]);                                      \
                v[8 + b] = _mm512_fmadd_ps(a2, xb, v[8 + b]);                                      \
                v[12 + b] = _mm512_fmadd_ps(a3, xb, v[12 + b]);                                    \
            }                                                                                      \
        }                                                                                          \
        float s[16];                                                                               \
        _mm512_storeu_ps(s, reduce16(v));                                                          \
        for (int row = 0; row < 4; row++)                                                          \
            for (int b = 0; b < 4; b++) {                                                          \
                /* v[4*row + b] landed in lane 4*b + row */                                        \
                float t = s[4 * b + row];                                                          \
                const WT *wr = W + (r + row) * cols;                                               \
                for (int64_t j = i; j < cols; j++) t += SCALARW(wr[j]) * x[b * ldx + j];           \
                y[b * ldy + r + row] = t;                                                          \
            }                                                                                      \
    }

/* The entry point: 4x4 blocks where both counts allow, the simple kernel
 * for the remainder rows and sequences. */
#define MV_ENTRY(NAME, NAME4, BASIC, WT)                                                           \
    void NAME(const void *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,           \
              int64_t ldy, int64_t r0, int64_t r1) {                                               \
        int B4 = B & ~3;                                                                           \
        int64_t r4 = r0 + ((r1 - r0) & ~(int64_t)3);                                               \
        if (B4 == 0 || r4 == r0) {                                                                 \
            BASIC(W, cols, x, ldx, B, y, ldy, r0, r1);                                             \
            return;                                                                                \
        }                                                                                          \
        for (int64_t r = r0; r < r4; r += 4)                                                       \
            for (int b = 0; b < B4; b += 4)                                                        \
                NAME4((const WT *)W, cols, x + b * ldx, ldx, y + b * ldy, ldy, r);                 \
        if (B4 < B) BASIC(W, cols, x + B4 * ldx, ldx, B - B4, y + B4 * ldy, ldy, r0, r4);          \
        if (r4 < r1) BASIC(W, cols, x, ldx, B, y, ldy, r4, r1);                                    \
    }

#define WT float
#define LOADW(p) _mm512_loadu_ps(p)
#define SCALARW(v) (v)
#define NAME mv_basic_f32
#include "matvec_tmpl.h"
MV4X4(mv4x4_f32, float, LOADW, SCALARW)
MV_ENTRY(fr_matvec_avx512_f32, mv4x4_f32, mv_basic_f32, float)
#undef WT
#undef LOADW
#undef SCALARW
#undef NAME

#define WT uint16_t
#define LOADW(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define SCALARW(v) fr_f16_to_f32(v)
#define NAME mv_basic_f16
#include "matvec_tmpl.h"
MV4X4(mv4x4_f16, uint16_t, LOADW, SCALARW)
MV_ENTRY(fr_matvec_avx512_f16, mv4x4_f16, mv_basic_f16, uint16_t)
#undef LOADW
#undef SCALARW
#undef NAME

#define LOADW(p)                                                                                   \
    _mm512_castsi512_ps(                                                                           \
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define SCALARW(v) fr_bf16_to_f32(v)
#define NAME mv_basic_bf16
#include "matvec_tmpl.h"
MV4X4(mv4x4_bf16, uint16_t, LOADW, SCALARW)
MV_ENTRY(fr_matvec_avx512_bf16, mv4x4_bf16, mv_basic_bf16, uint16_t)
