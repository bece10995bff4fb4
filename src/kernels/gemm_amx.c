/* gemm_amx.c: fr_gemm in bf16 precision (kernels.h): AMX-BF16 tiles, or
 * the AVX512-BF16 dot-product instruction, multiplying bf16 and summing in
 * f32.
 *
 * Both paths share one packed layout, built while rounding f32 to bf16:
 * - A in 32-row panels; per k chunk of 32, the 32 rows of 32 bf16 each
 *   (64 bytes a row), so an AMX A tile (16 rows x 32 bf16) is 16 contiguous
 *   rows.
 * - B in 32-column panels; per k chunk, two halves of 16 columns, each 16
 *   "pair rows": row r holds, for each of the 16 columns n, the pair
 *   (B[2r][n], B[2r+1][n]) (the VNNI layout both TDPBF16PS and VDPBF16PS
 *   read).
 * Chunks past K, rows past M and columns past N are zero, so the kernels
 * never branch on edges. A micro-kernel computes one 32 x 32 tile over the
 * packed depth: straight in C (from zero for beta 0, from C for beta 1)
 * when the tile is whole and alpha is 1, else into an f32 scratch tile
 * that is then added into C with alpha and beta through masks.
 *
 * AMX: eight tile registers, 16 x 64 bytes each: four accumulate the 2 x 2
 * C tiles, two hold A, two hold B; each k chunk is four TDPBF16PS (each
 * 16 x 16 x 32 multiply-adds). The tile configuration is per thread: a
 * thread loads it before its first tile instruction and releases the tiles
 * when its share is done (so the OS need not save them).
 *
 * AVX512-BF16: the same 32 x 32 tile in groups of 8 rows: 16 zmm
 * accumulators, two B vectors and a broadcast A pair per pair row.
 *
 * The driver is fr_gemm's (gemm.c): one unit of columns (or rows) per
 * thread, jc over nc, pc over kc (pack B), ic over mc (pack A), then the
 * micro-tiles. Only called after fr_cpu_bf16() reported the hardware.
 */
#include "gemm.h"

#include "frugal/threads.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#define TM 32      /* rows of a micro-tile */
#define TN 32      /* columns of a micro-tile */
#define TK 32      /* k per chunk */
#define CHUNK 1024 /* bf16 per packed chunk of a panel (32 x 32) */

static inline __mmask16 mask16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* 32 floats at p (the first n valid, the rest read as 0) as 32 bf16 */
static inline __m512i cvt32(const float *p, int64_t n) {
    __m512 lo = _mm512_maskz_loadu_ps(mask16(n), p);
    __m512 hi = _mm512_maskz_loadu_ps(mask16(n - 16), p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

/* r[0..15] (16 x 16 32-bit elements, one row per register) transposed in
 * registers: unpack 32- and 64-bit pairs, then swap 128-bit lanes twice. */
static inline void tr16x16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + j + 4], 0x88);
            t[8 * i + j + 4] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xdd);
    }
}

/* 16-bit interleave of two 32-element vectors a, b: pairs (a[i], b[i]) for
 * i = 0..15 (ILV_LO) or 16..31 (ILV_HI), one pair per 32-bit lane */
static const uint16_t ILV_LO[32] = {0, 32, 1, 33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                    8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
static const uint16_t ILV_HI[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                    24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};

/* ---- packing ---- */

/* op(A)[i0.., pc..] (mm x kc) into 32-row panels of nch chunks each. */
static void pack_a(int transA, const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                   int64_t kc, uint16_t *restrict dst) {
    int64_t nch = (kc + TK - 1) / TK;
    for (int64_t p = 0; p < mm; p += TM, dst += nch * CHUNK) {
        int64_t rows = mm - p < TM ? mm - p : TM;
        for (int64_t ch = 0; ch < nch; ch++) {
            uint16_t *d = dst + ch * CHUNK;
            int64_t k0 = pc + ch * TK, kk = kc - ch * TK < TK ? kc - ch * TK : TK;
            if (!transA) {
                for (int64_t i = 0; i < rows; i++)
                    _mm512_storeu_si512(d + i * TK, cvt32(A + (i0 + p + i) * lda + k0, kk));
            } else {
                /* A stored K x M: rows k and k+1 of the chunk are 32
                 * consecutive rows of op(A) each; interleaved they give
                 * each row's (k, k+1) pair, and two 16 x 16 transposes of
                 * those pairs give the panel's rows */
                const __m512i ilo = _mm512_loadu_si512(ILV_LO), ihi = _mm512_loadu_si512(ILV_HI);
                __m512i lo[16], hi[16];
                for (int r = 0; r < TK / 2; r++) {
                    __m512i r0 = 2 * r < kk ? cvt32(A + (k0 + 2 * r) * lda + i0 + p, rows)
                                            : _mm512_setzero_si512();
                    __m512i r1 = 2 * r + 1 < kk ? cvt32(A + (k0 + 2 * r + 1) * lda + i0 + p, rows)
                                                : _mm512_setzero_si512();
                    lo[r] = _mm512_permutex2var_epi16(r0, ilo, r1);
                    hi[r] = _mm512_permutex2var_epi16(r0, ihi, r1);
                }
                tr16x16(lo);
                tr16x16(hi);
                for (int i = 0; i < 16; i++) {
                    _mm512_storeu_si512(d + i * TK, lo[i]);
                    _mm512_storeu_si512(d + (16 + i) * TK, hi[i]);
                }
                continue;
            }
            for (int64_t i = rows; i < TM; i++)
                _mm512_storeu_si512(d + i * TK, _mm512_setzero_si512());
        }
    }
}

/* op(B)[pc.., j0..] (kc x nn) into 32-column panels of nch chunks each;
 * with W (bf16, stored N x K: a weight matrix read in place) op(B) = W^T,
 * the transB layout with no rounding to do. */
static void pack_b(int transB, const float *B, const uint16_t *W, int64_t ldb, int64_t pc,
                   int64_t kc, int64_t j0, int64_t nn, uint16_t *restrict dst) {
    int64_t nch = (kc + TK - 1) / TK;
    /* interleave two 16-column rows (lo half k, hi half k+1) into pairs */
    const __m512i ilv = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                         8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t p = 0; p < nn; p += TN, dst += nch * CHUNK) {
        int64_t cols = nn - p < TN ? nn - p : TN;
        for (int64_t ch = 0; ch < nch; ch++) {
            uint16_t *d = dst + ch * CHUNK;
            int64_t k0 = pc + ch * TK, kk = kc - ch * TK < TK ? kc - ch * TK : TK;
            if (!transB && !W) {
                for (int h = 0; h < 2; h++) {
                    int64_t nh = cols - 16 * h;
                    const float *src = B + j0 + p + 16 * h;
                    for (int64_t r = 0; r < TK / 2; r++) {
                        __mmask16 m0 = 2 * r < kk ? mask16(nh) : 0;
                        __mmask16 m1 = 2 * r + 1 < kk ? mask16(nh) : 0;
                        __m512 lo = _mm512_maskz_loadu_ps(m0, src + (k0 + 2 * r) * ldb);
                        __m512 hi = _mm512_maskz_loadu_ps(m1, src + (k0 + 2 * r + 1) * ldb);
                        __m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                        _mm512_storeu_si512(d + h * 512 + r * 32, _mm512_permutexvar_epi16(ilv, v));
                    }
                }
            } else {
                /* B stored N x K: column n of op(B) is 32 consecutive k,
                 * i.e. 16 pairs, one per pair row: a 16 x 16 transpose of
                 * 32-bit pairs per half */
                __mmask32 km = kk >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << kk) - 1);
                for (int h = 0; h < 2; h++) {
                    __m512i t[16];
                    for (int n = 0; n < 16; n++) {
                        int64_t col = j0 + p + 16 * h + n;
                        t[n] = 16 * h + n >= cols ? _mm512_setzero_si512()
                               : W                ? _mm512_maskz_loadu_epi16(km, W + col * ldb + k0)
                                                  : cvt32(B + col * ldb + k0, kk);
                    }
                    tr16x16(t);
                    for (int r = 0; r < 16; r++)
                        _mm512_storeu_si512(d + h * 512 + r * 32, t[r]);
                }
            }
        }
    }
}

/* ---- micro-kernels: a 32 x 32 tile over nch chunks into t (row stride 32) ---- */

struct tilecfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

static void amx_config(void) {
    struct tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++)
        c.colsb[i] = 64, c.rows[i] = 16;
    _tile_loadconfig(&c);
}

/* t: the tile's output, row stride ldt floats (a scratch tile, or C
 * itself for a full tile with alpha 1); acc: start from t's values (C's
 * beta 1) instead of zero. */
static void ukr_amx(int64_t nch, const uint16_t *a, const uint16_t *b, float *t, int64_t ldt,
                    int64_t m, int acc) {
    (void)m;
    size_t st = (size_t)ldt * sizeof(float);
    if (acc) {
        _tile_loadd(0, t, st);
        _tile_loadd(1, t + 16, st);
        _tile_loadd(2, t + 16 * ldt, st);
        _tile_loadd(3, t + 16 * ldt + 16, st);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int64_t c = 0; c < nch; c++, a += CHUNK, b += CHUNK) {
        _tile_loadd(4, a, 64);
        _tile_loadd(6, b, 64);
        _tile_loadd(5, a + 512, 64);
        _tile_loadd(7, b + 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, t, st);
    _tile_stored(1, t + 16, st);
    _tile_stored(2, t + 16 * ldt, st);
    _tile_stored(3, t + 16 * ldt + 16, st);
}

static void ukr_avx512bf16(int64_t nch, const uint16_t *a, const uint16_t *b, float *t, int64_t ldt,
                           int64_t m, int accumulate) {
    for (int64_t g = 0; g < m; g += 8) {
        __m512 acc[8][2];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            acc[i][0] = accumulate ? _mm512_loadu_ps(t + (g + i) * ldt) : _mm512_setzero_ps();
            acc[i][1] = accumulate ? _mm512_loadu_ps(t + (g + i) * ldt + 16) : _mm512_setzero_ps();
        }
        for (int64_t c = 0; c < nch; c++) {
            const uint16_t *ac = a + c * CHUNK + g * TK, *bc = b + c * CHUNK;
#pragma GCC unroll 2
            for (int r = 0; r < TK / 2; r++) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(bc + r * 32);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512(bc + 512 + r * 32);
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) {
                    int32_t pr;
                    memcpy(&pr, ac + i * TK + 2 * r, sizeof pr);
                    __m512bh av = (__m512bh)_mm512_set1_epi32(pr);
                    acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
                    acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
                }
            }
        }
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            _mm512_storeu_ps(t + (g + i) * ldt, acc[i][0]);
            _mm512_storeu_ps(t + (g + i) * ldt + 16, acc[i][1]);
        }
    }
}

/* C[0..m, 0..n) = alpha * t + beta * C (beta == 0: C not read) */
static void put_tile(const float *t, float *c, int64_t ldc, int64_t m, int64_t n, float alpha,
                     float beta) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mk[2] = {mask16(n), mask16(n - 16)};
    for (int64_t i = 0; i < m; i++)
        for (int h = 0; h < 2; h++) {
            float *p = c + i * ldc + 16 * h;
            __m512 r = _mm512_mul_ps(_mm512_load_ps(t + i * 32 + 16 * h), va);
            if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[h], p), r);
            _mm512_mask_storeu_ps(p, mk[h], r);
        }
}

/* ---- the driver ---- */

typedef void (*ukr_fn)(int64_t nch, const uint16_t *a, const uint16_t *b, float *t, int64_t ldt,
                       int64_t m, int accumulate);

struct bjob {
    ukr_fn ukr;
    int amx;
    int64_t kc, mc, nc;
    int transA, transB;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    const uint16_t *W; /* bf16 weights (B = W^T), or NULL */
    int64_t lda, ldb, ldc;
    float *C;
    int split_m;
    int64_t unit, nunits;
    atomic_llong next;
};

static int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

static void block(const struct bjob *g, uint16_t *ap, uint16_t *bp, float *t, int64_t ib,
                  int64_t ie, int64_t jb, int64_t je) {
    for (int64_t jc = jb; jc < je; jc += g->nc) {
        int64_t nc = je - jc < g->nc ? je - jc : g->nc;
        for (int64_t pc = 0; pc < g->K; pc += g->kc) {
            int64_t kc = g->K - pc < g->kc ? g->K - pc : g->kc, nch = (kc + TK - 1) / TK;
            float beta = pc == 0 ? g->beta : 1.0f;
            pack_b(g->transB, g->B, g->W, g->ldb, pc, kc, jc, nc, bp);
            for (int64_t ic = ib; ic < ie; ic += g->mc) {
                int64_t mc = ie - ic < g->mc ? ie - ic : g->mc;
                pack_a(g->transA, g->A, g->lda, ic, mc, pc, kc, ap);
                for (int64_t ir = 0; ir < mc; ir += TM) {
                    int64_t m = mc - ir < TM ? mc - ir : TM;
                    const uint16_t *apan = ap + ir / TM * nch * CHUNK;
                    for (int64_t jr = 0; jr < nc; jr += TN) {
                        int64_t n = nc - jr < TN ? nc - jr : TN;
                        const uint16_t *bpan = bp + jr / TN * nch * CHUNK;
                        float *c = g->C + (ic + ir) * g->ldc + jc + jr;
                        if (m == TM && n == TN && g->alpha == 1.0f &&
                            (beta == 0.0f || beta == 1.0f))
                            g->ukr(nch, apan, bpan, c, g->ldc, m, beta == 1.0f); /* in C */
                        else {
                            g->ukr(nch, apan, bpan, t, TN, m, 0);
                            put_tile(t, c, g->ldc, m, n, g->alpha, beta);
                        }
                    }
                }
            }
        }
    }
}

static void bf16_thread(void *vp, int64_t t0, int64_t t1, int tid) {
    (void)t0, (void)t1, (void)tid;
    struct bjob *g = vp;
    int64_t kc = g->K < g->kc ? g->K : g->kc, nch = (kc + TK - 1) / TK;
    int64_t ncols = g->split_m ? g->N : g->unit, nrows = g->split_m ? g->unit : g->M;
    int64_t alen = round_up(nrows < g->mc ? nrows : g->mc, TM) * nch * TK;
    int64_t blen = round_up(ncols < g->nc ? ncols : g->nc, TN) * nch * TK;
    uint16_t *ap = NULL;
    int configured = 0;
    for (;;) {
        int64_t u = atomic_fetch_add(&g->next, 1);
        if (u >= g->nunits) break;
        int64_t lo = u * g->unit, hi = lo + g->unit;
        if (!ap)
            ap = fr_gemm_thread_buffer(sizeof(uint16_t) * (size_t)(alen + blen) +
                                       sizeof(float) * TM * TN);
        if (!ap && g->W) { /* no memory for packing: this unit unblocked (W rows are columns) */
            if (g->split_m)
                fr_gemm_bf16w_ref((hi < g->M ? hi : g->M) - lo, g->N, g->K, g->alpha,
                                  g->A + lo * g->lda, g->lda, g->W, g->ldb, g->beta,
                                  g->C + lo * g->ldc, g->ldc);
            else
                fr_gemm_bf16w_ref(g->M, (hi < g->N ? hi : g->N) - lo, g->K, g->alpha, g->A, g->lda,
                                  g->W + lo * g->ldb, g->ldb, g->beta, g->C + lo, g->ldc);
            continue;
        }
        if (!ap) { /* no memory for packing: the reference needs none */
            if (g->split_m)
                fr_gemm_bf16_ref(g->transA, g->transB, (hi < g->M ? hi : g->M) - lo, g->N, g->K,
                                 g->alpha, g->A + (g->transA ? lo : lo * g->lda), g->lda, g->B,
                                 g->ldb, g->beta, g->C + lo * g->ldc, g->ldc);
            else
                fr_gemm_bf16_ref(g->transA, g->transB, g->M, (hi < g->N ? hi : g->N) - lo, g->K,
                                 g->alpha, g->A, g->lda, g->B + (g->transB ? lo * g->ldb : lo),
                                 g->ldb, g->beta, g->C + lo, g->ldc);
            continue;
        }
        if (g->amx && !configured) amx_config(), configured = 1;
        float *t =
            (float *)(ap + alen + blen); /* 64-byte aligned: alen, blen are multiples of 1024 */
        if (g->split_m)
            block(g, ap, ap + alen, t, lo, hi < g->M ? hi : g->M, 0, g->N);
        else
            block(g, ap, ap + alen, t, 0, g->M, lo, hi < g->N ? hi : g->N);
    }
    if (configured) _tile_release();
}

static void launch(enum fr_bf16_hw hw, int transA, int transB, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, const uint16_t *W,
                   int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* the public entry points never come here */
        fr_gemm_scale_c(M, N, beta, C, ldc);
        return;
    }
    struct fr_gemm_blocking bk;
    fr_gemm_bf16_blocking(&bk);
    struct bjob g = {.ukr = hw == FR_BF16_AMX ? ukr_amx : ukr_avx512bf16,
                     .amx = hw == FR_BF16_AMX,
                     .kc = bk.kc,
                     .mc = bk.mc,
                     .nc = bk.nc,
                     .transA = transA,
                     .transB = transB,
                     .M = M,
                     .N = N,
                     .K = K,
                     .alpha = alpha,
                     .beta = beta,
                     .A = A,
                     .B = B,
                     .W = W,
                     .lda = lda,
                     .ldb = ldb,
                     .ldc = ldc,
                     .C = C};
    int nt = fr_gemm_units(M, N, K, TM, TN, 8e6, &g.split_m, &g.unit, &g.nunits);
    atomic_init(&g.next, 0);
    fr_parallel_for(nt, 1, bf16_thread, &g);
}

void fr_gemm_bf16_run(enum fr_bf16_hw hw, int transA, int transB, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float beta, float *C, int64_t ldc) {
    launch(hw, transA, transB, M, N, K, alpha, A, lda, B, NULL, ldb, beta, C, ldc);
}

void fr_gemm_bf16w_run(enum fr_bf16_hw hw, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const uint16_t *W, int64_t ldw, float beta,
                       float *C, int64_t ldc) {
    launch(hw, 0, 1, M, N, K, alpha, A, lda, NULL, W, ldw, beta, C, ldc);
}
