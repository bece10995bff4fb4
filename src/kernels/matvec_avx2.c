/* matvec_avx2.c: AVX2 + FMA + F16C matvec kernels (see matvec.h,
 * matvec_tmpl.h).
 *
 * For 4 or more rows of x (batched decoding) a 4x2 kernel takes 4 weight
 * rows against 2 rows of x at once: 8 accumulators (AVX2 has 16 registers,
 * so the AVX-512 file's 4x4 would spill), 6 loads per 8 FMAs instead of the
 * simple kernel's 10, and one hadd-based reduction of all 8 instead of 8
 * horizontal sums. A block of 4 weight rows serves every row of x while it
 * is in L1, and the weight stream is prefetched in software a few KB ahead,
 * as in matvec_avx512.c. The last 1-3 weight rows and inputs of 1-3 rows of
 * x take the simple kernel: at 2 rows the 4x2 kernel measured ~10% slower
 * (15M and GPT-2 shapes), at 8 rows 10-60% faster. */
#include <immintrin.h>
#include <string.h>

#include "matvec.h"

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define VF __m256
#define VW 8
#define VZERO() _mm256_setzero_ps()
#define VLOADX(p) _mm256_loadu_ps(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VHSUM(v) hsum256(v)
#define VADD(a, b) _mm256_add_ps(a, b)

#define NAME_LINKAGE static

/* Lane k of the result is the sum of the 8 lanes of v[k]. */
static inline __m256 reduce8(const __m256 *v) {
    __m256 t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
    __m256 t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                         _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* Prefetch distance of the weight stream (whole 4-row blocks, at least 2). */
#define MV_PF_BYTES 8192

/* 4 weight rows x nb (1 or 2) rows of x; v[2*row + b] accumulates (row, b).
 * Prefetches the rows in the bit mask pfm pfd elements ahead. */
#define MV4X2(NAME4, WT, LOADW, SCALARW)                                                           \
    static inline __attribute__((always_inline)) void NAME4(                                       \
        const WT *W, int64_t cols, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t r,  \
        const int nb, int64_t pfd, int pfm) {                                                      \
        __m256 v[8];                                                                               \
        for (int k = 0; k < 8; k++)                                                                \
            v[k] = _mm256_setzero_ps();                                                            \
        const WT *w0 = W + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;            \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= cols; i += 8) {                                                            \
            if (pfm && ((i * (int64_t)sizeof(WT)) & 63) == 0) {                                    \
                if (pfm & 1) _mm_prefetch((const char *)(w0 + i + pfd), _MM_HINT_T0);              \
                if (pfm & 2) _mm_prefetch((const char *)(w1 + i + pfd), _MM_HINT_T0);              \
                if (pfm & 4) _mm_prefetch((const char *)(w2 + i + pfd), _MM_HINT_T0);              \
                if (pfm & 8) _mm_prefetch((const char *)(w3 + i + pfd), _MM_HINT_T0);              \
            }                                                                                      \
            __m256 a0 = LOADW(w0 + i), a1 = LOADW(w1 + i), a2 = LOADW(w2 + i), a3 = LOADW(w3 + i); \
            for (int b = 0; b < nb; b++) {                                                         \
                __m256 xb = _mm256_loadu_ps(x + b * ldx + i);                                      \
                v[0 + b] = _mm256_fmadd_ps(a0, xb, v[0 + b]);                                      \
                v[2 + b] = _mm256_fmadd_ps(a1, xb, v[2 + b]);                                      \
                v[4 + b] = _mm256_fmadd_ps(a2, xb, v[4 + b]);                                      \
                v[6 + b] = _mm256_fmadd_ps(a3, xb, v[6 + b]);                                      \
            }                                                                                      \
        }                                                                                          \
        float s[8];                                                                                \
        _mm256_storeu_ps(s, reduce8(v));                                                           \
        for (int row = 0; row < 4; row++)                                                          \
            for (int b = 0; b < nb; b++) {                                                         \
                float t = s[2 * row + b];                                                          \
                const WT *wr = W + (r + row) * cols;                                               \
                for (int64_t j = i; j < cols; j++)                                                 \
                    t += SCALARW(wr[j]) * x[b * ldx + j];                                          \
                y[b * ldy + r + row] = t;                                                          \
            }                                                                                      \
    }

/* The entry point: with 4 or more rows of x, each block of 4 weight rows is
 * used for all B rows of x, 2 at a time, while it is in L1; the prefetches
 * of a later block are spread over the first two passes (rows 0-1, then
 * 2-3). The last 1-3 weight rows, and 1-3 rows of x, take the simple
 * kernel, whose one row stream the hardware prefetchers keep up with. */
#define MV_ENTRY(NAME, NAME4, BASIC, WT)                                                           \
    void NAME(const void *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,           \
              int64_t ldy, int64_t r0, int64_t r1) {                                               \
        int64_t r4 = r0 + ((r1 - r0) & ~(int64_t)3);                                               \
        if (B < 4 || r4 == r0) {                                                                   \
            BASIC(W, cols, x, ldx, B, y, ldy, r0, r1);                                             \
            return;                                                                                \
        }                                                                                          \
        const WT *Wt = (const WT *)W;                                                              \
        int64_t blk = 4 * cols, nblk = (MV_PF_BYTES / (int64_t)sizeof(WT) + blk - 1) / blk;        \
        int64_t pfd = blk * (nblk < 2 ? 2 : nblk);                                                 \
        const int pf0 = 3; /* rows prefetched in pass 0 (B >= 4); pass 1 takes the rest */         \
        for (int64_t r = r0; r < r4; r += 4) {                                                     \
            int b = 0;                                                                             \
            for (; b + 2 <= B; b += 2)                                                             \
                NAME4(Wt, cols, x + b * ldx, ldx, y + b * ldy, ldy, r, 2, pfd,                     \
                      b == 0   ? pf0                                                               \
                      : b == 2 ? 12                                                                \
                               : 0);                                                               \
            if (b < B)                                                                             \
                NAME4(Wt, cols, x + b * ldx, ldx, y + b * ldy, ldy, r, 1, pfd, b == 2 ? 12 : 0);   \
        }                                                                                          \
        if (r4 < r1) BASIC(W, cols, x, ldx, B, y, ldy, r4, r1);                                    \
    }

#define WT float
#define LOADW(p) _mm256_loadu_ps(p)
#define SCALARW(v) (v)
#define NAME mv_basic_f32
#define VSET1(s) _mm256_set1_ps(s)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define NAME_T fr_vecmat_avx2
#include "matvec_tmpl.h"
#undef NAME_T
MV4X2(mv4x2_f32, float, LOADW, SCALARW)
MV_ENTRY(fr_matvec_avx2_f32, mv4x2_f32, mv_basic_f32, float)
#undef WT
#undef LOADW
#undef SCALARW
#undef NAME

#define WT uint16_t
#define LOADW(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define SCALARW(v) fr_f16_to_f32(v)
#define NAME mv_basic_f16
#include "matvec_tmpl.h"
MV4X2(mv4x2_f16, uint16_t, LOADW, SCALARW)
MV_ENTRY(fr_matvec_avx2_f16, mv4x2_f16, mv_basic_f16, uint16_t)
#undef LOADW
#undef SCALARW
#undef NAME

#define LOADW(p)                                                                                   \
    _mm256_castsi256_ps(                                                                           \
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define SCALARW(v) fr_bf16_to_f32(v)
#define NAME mv_basic_bf16
#include "matvec_tmpl.h"
MV4X2(mv4x2_bf16, uint16_t, LOADW, SCALARW)
MV_ENTRY(fr_matvec_avx2_bf16, mv4x2_bf16, mv_basic_bf16, uint16_t)
