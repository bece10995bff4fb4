/* matvec_avx512.c: AVX-512 matvec kernels (see matvec.h, matvec_tmpl.h).
 *
 * For 4 or more rows of x (batched decoding) a 4x4 kernel takes 4 weight
 * rows against 4 rows of x at once: 16 accumulators, 8 loads per 16 FMAs,
 * and one transposing reduction of all 16 (12 shuffles) instead of 16
 * horizontal sums, which dominated for short rows (dim 288). A block of 4
 * weight rows serves every row of x before the next block is touched, and
 * the weight stream is prefetched in software: without it the kernel read
 * weights at a third of the batch-1 kernel's rate (the hardware prefetchers
 * do not keep up with 4 interleaved short row streams), which is what held
 * batch 8 at ~2x batch 1. The last 1-3 weight rows, and inputs of fewer
 * than 4 rows, go through the simple kernel of matvec_tmpl.h, except short
 * f32 rows (attention scores over a KV cache, cols <= 128), which take a
 * 16-row kernel. The vecmat kernel (attention value sums) is the template's.
 * A quick 2-row x 8-sequence block (16 accumulators, one pass) with the
 * same prefetch measured several times slower; not pursued. */
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

/* Software prefetch distance for the weight stream: whole 4-row blocks, at
 * least 2 and at least this many bytes ahead. At batch >= 4 a block costs
 * enough FMAs that the hardware prefetchers fall behind (4 interleaved
 * short row streams); fetching each row's line that far ahead keeps the
 * stream near the bandwidth of the batch-1 kernel. Distances of 4-32 KB
 * and L2 / non-temporal hints were tried on the dim-288 and dim-768 shapes;
 * this was best. */
#define MV_PF_BYTES 8192

/* 4 weight rows x nb (1..4, a constant after inlining) rows of x;
 * v[4*row + b] accumulates (row, b). Prefetches the rows in the bit mask
 * pfm pfd elements (a multiple of 4*cols) ahead. */
#define MV4XN(NAME4, WT, LOADW, SCALARW)                                                           \
    static inline __attribute__((always_inline)) void NAME4(                                       \
        const WT *W, int64_t cols, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t r,  \
        const int nb, int64_t pfd, int pfm) {                                                      \
        __m512 v[16];                                                                              \
        for (int k = 0; k < 16; k++)                                                               \
            v[k] = _mm512_setzero_ps();                                                            \
        const WT *w0 = W + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;            \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= cols; i += 16) {                                                          \
            /* one prefetch per row and cache line (every 64 bytes) */                             \
            if (pfm && ((i * (int64_t)sizeof(WT)) & 63) == 0) {                                    \
                if (pfm & 1) _mm_prefetch((const char *)(w0 + i + pfd), _MM_HINT_T0);              \
                if (pfm & 2) _mm_prefetch((const char *)(w1 + i + pfd), _MM_HINT_T0);              \
                if (pfm & 4) _mm_prefetch((const char *)(w2 + i + pfd), _MM_HINT_T0);              \
                if (pfm & 8) _mm_prefetch((const char *)(w3 + i + pfd), _MM_HINT_T0);              \
            }                                                                                      \
            __m512 a0 = LOADW(w0 + i), a1 = LOADW(w1 + i), a2 = LOADW(w2 + i), a3 = LOADW(w3 + i); \
            for (int b = 0; b < nb; b++) {                                                         \
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
            for (int b = 0; b < nb; b++) {                                                         \
                /* v[4*row + b] landed in lane 4*b + row */                                        \
                float t = s[4 * b + row];                                                          \
                const WT *wr = W + (r + row) * cols;                                               \
                for (int64_t j = i; j < cols; j++)                                                 \
                    t += SCALARW(wr[j]) * x[b * ldx + j];                                          \
                y[b * ldy + r + row] = t;                                                          \
            }                                                                                      \
    }

/* The entry point. With 4 or more rows of x: each block of 4 weight rows
 * is used for all B rows of x, 4 at a time and then the 1-3 left over,
 * while it is in L1; the prefetches of a later block are spread over the
 * first two passes (rows 0-1, then 2-3) so the memory requests keep coming
 * while the second pass runs from L1 (a fifth faster than prefetching all
 * in the first). The last 1-3 weight rows go through the simple kernel.
 * Fewer than 4 rows of x: the simple kernel, whose single row stream the
 * hardware prefetchers keep up with. */
#define MV_ENTRY(LINK, NAME, NAME4, BASIC, WT)                                                     \
    LINK void NAME(const void *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,      \
                   int64_t ldy, int64_t r0, int64_t r1) {                                          \
        int64_t r4 = r0 + ((r1 - r0) & ~(int64_t)3);                                               \
        if (B < 4 || r4 == r0) {                                                                   \
            BASIC(W, cols, x, ldx, B, y, ldy, r0, r1);                                             \
            return;                                                                                \
        }                                                                                          \
        const WT *Wt = (const WT *)W;                                                              \
        int64_t blk = 4 * cols, nblk = (MV_PF_BYTES / (int64_t)sizeof(WT) + blk - 1) / blk;        \
        int64_t pfd = blk * (nblk < 2 ? 2 : nblk);                                                 \
        int pf0 = B > 4 ? 3 : 15; /* rows prefetched in pass 0; pass 1 takes the rest */           \
        for (int64_t r = r0; r < r4; r += 4) {                                                     \
            int b = 0;                                                                             \
            for (; b + 4 <= B; b += 4)                                                             \
                NAME4(Wt, cols, x + b * ldx, ldx, y + b * ldy, ldy, r, 4, pfd,                     \
                      b == 0   ? pf0                                                               \
                      : b == 4 ? 12                                                                \
                               : 0);                                                               \
            const float *xb = x + b * ldx;                                                         \
            float *yb = y + b * ldy;                                                               \
            int pfm = b == 4 ? 12 : 0;                                                             \
            switch (B - b) {                                                                       \
            case 3:                                                                                \
                NAME4(Wt, cols, xb, ldx, yb, ldy, r, 3, pfd, pfm);                                 \
                break;                                                                             \
            case 2:                                                                                \
                NAME4(Wt, cols, xb, ldx, yb, ldy, r, 2, pfd, pfm);                                 \
                break;                                                                             \
            case 1:                                                                                \
                NAME4(Wt, cols, xb, ldx, yb, ldy, r, 1, pfd, pfm);                                 \
                break;                                                                             \
            default:                                                                               \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        if (r4 < r1) BASIC(W, cols, x, ldx, B, y, ldy, r4, r1);                                    \
    }

#define WT float
#define LOADW(p) _mm512_loadu_ps(p)
#define SCALARW(v) (v)
#define NAME mv_basic_f32
#define VSET1(s) _mm512_set1_ps(s)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define NAME_T fr_vecmat_avx512
#include "matvec_tmpl.h"
#undef NAME_T
MV4XN(mv4x4_f32, float, LOADW, SCALARW)
MV_ENTRY(static, mv_entry_f32, mv4x4_f32, mv_basic_f32, float)

/* Short rows (attention scores over a KV cache: cols = head size) and 1-3
 * rows of x: 16 weight rows per block, one accumulator each, and one
 * reduction for all 16, instead of a horizontal sum per row that costs as
 * much as the row's FMAs. Masked loads for cols % 16. */
static void mv16_f32(const float *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,
                     int64_t ldy, int64_t r0, int64_t r1) {
    /* reduce16 leaves the sum of v[k] in lane 4 * (k % 4) + k / 4 */
    const __m512i perm = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    int64_t r16 = r0 + ((r1 - r0) & ~(int64_t)15);
    int64_t blk = 16 * cols, pfd = blk * ((MV_PF_BYTES / 4 + blk - 1) / blk);
    for (int64_t r = r0; r < r16; r += 16)
        for (int b = 0; b < B; b++) {
            const float *xb = x + b * ldx;
            __m512 v[16];
            for (int k = 0; k < 16; k++)
                v[k] = _mm512_setzero_ps();
            for (int64_t i = 0; i < cols; i += 16) {
                __mmask16 m =
                    cols - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - i)) - 1);
                __m512 xv = _mm512_maskz_loadu_ps(m, xb + i);
                if (b == 0) /* the next blocks' lines, as in the 4xN kernel */
                    for (int k = 0; k < 16; k++)
                        _mm_prefetch((const char *)(W + (r + k) * cols + i + pfd), _MM_HINT_T0);
                for (int k = 0; k < 16; k++)
                    v[k] =
                        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, W + (r + k) * cols + i), xv, v[k]);
            }
            _mm512_storeu_ps(y + b * ldy + r, _mm512_permutexvar_ps(perm, reduce16(v)));
        }
    if (r16 < r1) mv_basic_f32(W, cols, x, ldx, B, y, ldy, r16, r1);
}

void fr_matvec_avx512_f32(const void *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,
                          int64_t ldy, int64_t r0, int64_t r1) {
    if (B < 4 && cols <= 128 && r1 - r0 >= 16)
        mv16_f32(W, cols, x, ldx, B, y, ldy, r0, r1);
    else
        mv_entry_f32(W, cols, x, ldx, B, y, ldy, r0, r1);
}
#undef WT
#undef LOADW
#undef SCALARW
#undef NAME

#define WT uint16_t
#define LOADW(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define SCALARW(v) fr_f16_to_f32(v)
#define NAME mv_basic_f16
#include "matvec_tmpl.h"
MV4XN(mv4x4_f16, uint16_t, LOADW, SCALARW)
MV_ENTRY(, fr_matvec_avx512_f16, mv4x4_f16, mv_basic_f16, uint16_t)
#undef LOADW
#undef SCALARW
#undef NAME

#define LOADW(p)                                                                                   \
    _mm512_castsi512_ps(                                                                           \
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define SCALARW(v) fr_bf16_to_f32(v)
#define NAME mv_basic_bf16
#include "matvec_tmpl.h"
MV4XN(mv4x4_bf16, uint16_t, LOADW, SCALARW)
MV_ENTRY(, fr_matvec_avx512_bf16, mv4x4_bf16, mv_basic_bf16, uint16_t)
