/* gemm.c: frugal's own SGEMM (the BLIS / llamafile recipe) and its naive
 * references.
 *
 * Structure: the threads split C into one slab each (columns, or rows
 * when M > N), claimed from a shared counter so a late thread costs no
 * imbalance; within a slab, loops outermost first:
 *   jc over N in nc columns
 *     pc over K in kc steps       pack B[pc.., jc..] into nr-wide panels
 *                                 (zero padded)
 *       ic over M in mc rows      pack A into mr-row panels
 *         ir over A panels        the mr x kc A panel stays in L1
 *           jr over B panels      micro-kernel: mr x nr tile in registers,
 *                                 the B block streams from L2
 * The transposes are absorbed by the packing routines (SIMD 8 x 8
 * transposes where the ISA allows), so the kernels see one layout. beta
 * applies on the first kc step only (later steps add), and beta == 0 never
 * reads C. Two shortcuts skip packing where it cannot pay: M <= 8 with B
 * stored N x K goes to a dot-product kernel, and M <= 16 with B stored
 * K x N feeds B to the micro-kernel in place. Work is split statically
 * per element, so results do not depend on the thread count or timing.
 *
 * The kernels come from a table chosen by fr_cpu_isa() (AVX-512, AVX2+FMA,
 * plain C), so one binary runs everywhere. With FR_USE_OPENBLAS, fr_gemm
 * calls cblas_sgemm instead. fr_gemm_ref / fr_gemm_f64 are the naive loops
 * every fast path is tested against.
 */
#include "gemm.h"

#include "frugal/status.h"
#include "frugal/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef FR_USE_OPENBLAS
#include <cblas.h>
#endif

#define GEMM_NAIVE(T, ACC)                                                                         \
    for (int64_t i = 0; i < M; i++)                                                                \
        for (int64_t j = 0; j < N; j++) {                                                          \
            ACC s = 0;                                                                             \
            for (int64_t k = 0; k < K; k++) {                                                      \
                T a = transA ? A[k * lda + i] : A[i * lda + k];                                    \
                T b = transB ? B[j * ldb + k] : B[k * ldb + j];                                    \
                s += (ACC)a * b;                                                                   \
            }                                                                                      \
            C[i * ldc + j] = (T)(alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]));             \
        }

void fr_gemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc) {
    GEMM_NAIVE(float, double)
}

void fr_gemm_f64(int transA, int transB, int64_t M, int64_t N, int64_t K, double alpha,
                 const double *A, int64_t lda, const double *B, int64_t ldb, double beta, double *C,
                 int64_t ldc) {
    GEMM_NAIVE(double, double)
}

/* ---- plain-C micro-kernel (any x86-64; the compiler vectorises the j loop) ---- */

#define SC_MR 4
#define SC_NR 8

static inline void sc_body(const int m, int64_t kc, const float *restrict a,
                           const float *restrict b, int64_t ldb, float *restrict c, int64_t ldc,
                           float alpha, float beta, int64_t n) {
    float acc[SC_MR][SC_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < SC_NR; j++)
                acc[i][j] += a[i] * b[j];
        a += SC_MR;
        b += ldb;
    }
    for (int i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float r = alpha * acc[i][j];
            c[i * ldc + j] = beta != 0.0f ? r + beta * c[i * ldc + j] : r;
        }
}

#define SC_UKR(M_)                                                                                 \
    static void sc_ukr_##M_(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,     \
                            int64_t ldc, float alpha, float beta, int64_t n) {                     \
        sc_body(M_, kc, a, b, ldb, c, ldc, alpha, beta, n);                                        \
    }
SC_UKR(1)
SC_UKR(2)
SC_UKR(3)
SC_UKR(4)

static const struct fr_gemm_kernel kernel_scalar = {
    .isa = FR_ISA_SCALAR,
    .mr = SC_MR,
    .nr = SC_NR,
    .ukr = {NULL, sc_ukr_1, sc_ukr_2, sc_ukr_3, sc_ukr_4},
    .dot = NULL,
};

/* ---- packing ---- */

/* B[pc.., j0..] (kc x nn, nn <= nr) into dst as kc rows of nr floats. */
static void pack_b(int transB, const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t j0,
                   int64_t nn, int nr, float *restrict dst) {
    if (!transB) {
        const float *src = B + pc * ldb + j0;
        for (int64_t k = 0; k < kc; k++) {
            memcpy(dst + k * nr, src + k * ldb, (size_t)nn * sizeof(float));
            for (int64_t j = nn; j < nr; j++)
                dst[k * nr + j] = 0.0f;
        }
        return;
    }
    /* B is stored N x K: column j of op(B) is a contiguous row; transpose in
     * k blocks so the destination block stays in L1 */
    for (int64_t kb = 0; kb < kc; kb += 64) {
        int64_t ke = kb + 64 < kc ? kb + 64 : kc;
        for (int64_t j = 0; j < nn; j++) {
            const float *src = B + (j0 + j) * ldb + pc;
            for (int64_t k = kb; k < ke; k++)
                dst[k * nr + j] = src[k];
        }
        for (int64_t j = nn; j < nr; j++)
            for (int64_t k = kb; k < ke; k++)
                dst[k * nr + j] = 0.0f;
    }
}

/* op(A)[i0.., pc..] (mm x kc) into mr-row panels: panel p holds rows
 * i0+p*mr.., as kc steps of mr floats (rows past mm zero). */
static void pack_a(int transA, const float *A, int64_t lda, int64_t i0, int64_t mm, int64_t pc,
                   int64_t kc, int mr, float *restrict dst) {
    for (int64_t p = 0; p < mm; p += mr, dst += mr * kc) {
        int64_t rows = mm - p < mr ? mm - p : mr;
        if (transA) {
            const float *src = A + pc * lda + i0 + p;
            for (int64_t k = 0; k < kc; k++) {
                for (int64_t i = 0; i < rows; i++)
                    dst[k * mr + i] = src[k * lda + i];
                for (int64_t i = rows; i < mr; i++)
                    dst[k * mr + i] = 0.0f;
            }
        } else {
            for (int64_t i = 0; i < rows; i++) {
                const float *src = A + (i0 + p + i) * lda + pc;
                for (int64_t k = 0; k < kc; k++)
                    dst[k * mr + i] = src[k];
            }
            for (int64_t i = rows; i < mr; i++)
                for (int64_t k = 0; k < kc; k++)
                    dst[k * mr + i] = 0.0f;
        }
    }
}

/* ---- cache blocking ---- */

static int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

static const struct fr_gemm_kernel *kernel_for(enum fr_isa isa) {
    return isa == FR_ISA_AVX512 ? &fr_gemm_kernel_avx512
           : isa == FR_ISA_AVX2 ? &fr_gemm_kernel_avx2
                                : &kernel_scalar;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* The loop nest below keeps an mr x kc A micro-panel in L1 while the
 * packed kc x nc B block streams from L2 past it, so: kc such that the A
 * micro-panel takes at most a quarter of L1 (the B lines and C tile share
 * the rest), nc such that the B block takes at most half of this core's
 * share of L2, mc such that the packed A block takes at most a quarter
 * (it is read once per B block, from L2 when it fits). */
void fr_gemm_blocking_derive(enum fr_isa isa, const struct fr_cpu_caches *c,
                             struct fr_gemm_blocking *b) {
    const struct fr_gemm_kernel *kr = kernel_for(isa);
    int64_t l1 = c && c->l1d > 0 ? c->l1d : 32 << 10;
    int64_t l2 = c && c->l2 > 0 ? c->l2 / (c->l2_shared > 1 ? c->l2_shared : 1) : 512 << 10;
    int64_t kc = clamp64(l1 / 4 / ((int64_t)kr->mr * 4), 64, 512) / 32 * 32;
    int64_t nc = clamp64(l2 / 2 / (kc * 4), 4 * (int64_t)kr->nr, 8192) / kr->nr * kr->nr;
    int64_t mc = clamp64(l2 / 4 / (kc * 4), 4 * (int64_t)kr->mr, 1024) / kr->mr * kr->mr;
    b->kc = (int)kc, b->mc = (int)mc, b->nc = (int)nc;
}

static struct fr_gemm_blocking g_blk[3];
static const char *g_blk_src[3];
static pthread_once_t g_blk_once = PTHREAD_ONCE_INIT;

/* isa's blocking := b, mc and nc rounded up to the kernel's tile */
static void apply(enum fr_isa isa, const struct fr_gemm_blocking *b, const char *source) {
    const struct fr_gemm_kernel *kr = kernel_for(isa);
    g_blk[isa].kc = b->kc;
    g_blk[isa].mc = (int)round_up(b->mc, kr->mr);
    g_blk[isa].nc = (int)round_up(b->nc, kr->nr);
    g_blk_src[isa] = source;
}

static void blocking_init(void) {
    char path[4096];
    struct fr_gemm_blocking tuned[3];
    int found[3] = {0, 0, 0};
    const char *env = getenv("FRUGAL_TUNE_FILE");
    if (!(env && !strcmp(env, "none")) && fr_gemm_tune_path(path, sizeof path) == 0)
        fr_gemm_tune_read(path, tuned, found);
    fr_clear_error(); /* a missing tuning path is not an error */
    for (int i = 0; i < 3; i++) {
        struct fr_gemm_blocking d;
        fr_gemm_blocking_derive((enum fr_isa)i, fr_cpu_caches(), &d);
        apply((enum fr_isa)i, found[i] ? &tuned[i] : &d, found[i] ? "tuned" : "derived");
    }
}

void fr_gemm_blocking_get(enum fr_isa isa, struct fr_gemm_blocking *b, const char **source) {
    pthread_once(&g_blk_once, blocking_init);
    int i = isa >= FR_ISA_SCALAR && isa <= FR_ISA_AVX512 ? (int)isa : 0;
    *b = g_blk[i];
    if (source) *source = g_blk_src[i];
}

int fr_gemm_blocking_set(enum fr_isa isa, const struct fr_gemm_blocking *b) {
    pthread_once(&g_blk_once, blocking_init);
    if (isa < FR_ISA_SCALAR || isa > FR_ISA_AVX512)
        return fr_error(FR_EINVAL, "no GEMM kernel for ISA %d", (int)isa);
    if (!fr_gemm_blocking_valid(b))
        return fr_error(FR_EINVAL,
                        "GEMM blocking kc %d mc %d nc %d is outside kc 16..4096, mc 1..8192, "
                        "nc 1..65536",
                        b->kc, b->mc, b->nc);
    apply(isa, b, "tuned");
    return 0;
}

/* ---- the blocked driver ---- */

/* One GEMM is cut into units (column slabs, or row slabs when M > N) that
 * the threads claim from a shared counter, so a thread that starts late
 * (a busy machine) simply gets fewer units; each unit runs the serial loop
 * nest with the claiming thread's own packing buffers, so there is one
 * fork-join per call and no barrier inside. The price is that A (column
 * slabs) or B (row slabs) is packed once per unit, which is why units are
 * wide. */
struct gemm_job {
    const struct fr_gemm_kernel *kr;
    int64_t kc, mc, nc; /* the blocking in force (fr_gemm_blocking_get) */
    int transA, transB;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    int split_m;  /* units are row slabs (else column slabs) */
    int64_t unit; /* rows or columns per unit (a multiple of mr or nr) */
    int64_t nunits;
    atomic_llong next; /* next unclaimed unit */
};

/* Rows [i0, i0+mm) x columns [j0, j0+nn) of C for one kc step: the A
 * micro-panel (mr x kc) stays in L1 while the packed B panels stream from
 * L2. */
static void macro_kernel(const struct gemm_job *g, const float *ap, const float *bp, int64_t kc,
                         float beta, int64_t i0, int64_t mm, int64_t j0, int64_t nn) {
    const struct fr_gemm_kernel *kr = g->kr;
    int mr = kr->mr, nr = kr->nr;
    for (int64_t ir = 0; ir < mm; ir += mr) {
        int64_t m = mm - ir < mr ? mm - ir : mr;
        const float *apan = ap + ir * kc;
        float *c = g->C + (i0 + ir) * g->ldc + j0;
        for (int64_t jr = 0; jr < nn; jr += nr) {
            int64_t n = nn - jr < nr ? nn - jr : nr;
            kr->ukr[m](kc, apan, bp + jr * kc, nr, c + jr, g->ldc, g->alpha, beta, n);
        }
    }
}

/* The serial loop nest on the block rows [ib, ie) x columns [jb, je). */
static void gemm_block(const struct gemm_job *g, float *ap, float *bp, int64_t ib, int64_t ie,
                       int64_t jb, int64_t je) {
    const struct fr_gemm_kernel *kr = g->kr;
    for (int64_t jc = jb; jc < je; jc += g->nc) {
        int64_t nc = je - jc < g->nc ? je - jc : g->nc;
        for (int64_t pc = 0; pc < g->K; pc += g->kc) {
            int64_t kc = g->K - pc < g->kc ? g->K - pc : g->kc;
            float beta = pc == 0 ? g->beta : 1.0f;
            for (int64_t jr = 0; jr < nc; jr += kr->nr) {
                int64_t n = nc - jr < kr->nr ? nc - jr : kr->nr;
                if (g->transB && kr->pack_bt)
                    kr->pack_bt(g->B, g->ldb, pc, kc, jc + jr, n, kr->nr, bp + jr * kc);
                else
                    pack_b(g->transB, g->B, g->ldb, pc, kc, jc + jr, n, kr->nr, bp + jr * kc);
            }
            for (int64_t ic = ib; ic < ie; ic += g->mc) {
                int64_t mc = ie - ic < g->mc ? ie - ic : g->mc;
                if (!g->transA && kr->pack_a)
                    kr->pack_a(g->A, g->lda, ic, mc, pc, kc, ap);
                else if (g->transA && kr->pack_at)
                    kr->pack_at(g->A, g->lda, ic, mc, pc, kc, ap);
                else
                    pack_a(g->transA, g->A, g->lda, ic, mc, pc, kc, kr->mr, ap);
                macro_kernel(g, ap, bp, kc, beta, ic, mc, jc, nc);
            }
        }
    }
}

/* Each thread keeps its packing buffer between calls (grown on demand,
 * never shrunk: at most a few MB), so a call costs no mmap or page faults.
 * A thread-specific key frees it when a pool thread exits. */
static _Thread_local float *tl_buf;
static _Thread_local size_t tl_cap;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_free(void *p) {
    free(p);
}

static void tl_init(void) {
    pthread_key_create(&tl_key, tl_free);
}

static float *thread_buffer(size_t floats);

void *fr_gemm_thread_buffer(size_t bytes) {
    return thread_buffer((bytes + sizeof(float) - 1) / sizeof(float));
}

static float *thread_buffer(size_t floats) {
    if (floats <= tl_cap) return tl_buf;
    size_t bytes = (floats * sizeof(float) + 4095) / 4096 * 4096;
    float *p = aligned_alloc(64, bytes);
    if (!p) return NULL;
    free(tl_buf);
    tl_buf = p;
    tl_cap = bytes / sizeof(float);
    pthread_once(&tl_once, tl_init);
    pthread_setspecific(tl_key, p);
    return p;
}

static void gemm_thread(void *vp, int64_t t0, int64_t t1, int tid) {
    (void)t0, (void)t1, (void)tid;
    struct gemm_job *g = vp;
    const struct fr_gemm_kernel *kr = g->kr;
    int64_t kc = g->K < g->kc ? g->K : g->kc;
    int64_t ncols = g->split_m ? g->N : g->unit, nrows = g->split_m ? g->unit : g->M;
    int64_t alen = round_up(round_up(nrows < g->mc ? nrows : g->mc, kr->mr) * kc, 16);
    int64_t blen = round_up(round_up(ncols < g->nc ? ncols : g->nc, kr->nr) * kc, 16);
    float *ap = NULL;
    for (;;) {
        int64_t u = atomic_fetch_add(&g->next, 1);
        if (u >= g->nunits) break;
        int64_t lo = u * g->unit, hi = lo + g->unit;
        if (!ap) ap = thread_buffer((size_t)(alen + blen));
        if (!ap) { /* no memory for packing: the unblocked loops need none */
            if (g->split_m)
                fr_gemm_ref(g->transA, g->transB, (hi < g->M ? hi : g->M) - lo, g->N, g->K,
                            g->alpha, g->A + (g->transA ? lo : lo * g->lda), g->lda, g->B, g->ldb,
                            g->beta, g->C + lo * g->ldc, g->ldc);
            else
                fr_gemm_ref(g->transA, g->transB, g->M, (hi < g->N ? hi : g->N) - lo, g->K,
                            g->alpha, g->A, g->lda, g->B + (g->transB ? lo * g->ldb : lo), g->ldb,
                            g->beta, g->C + lo, g->ldc);
            continue;
        }
        if (g->split_m)
            gemm_block(g, ap, ap + alen, lo, hi < g->M ? hi : g->M, 0, g->N);
        else
            gemm_block(g, ap, ap + alen, 0, g->M, lo, hi < g->N ? hi : g->N);
    }
}

static void blocked(const struct fr_gemm_kernel *kr, int transA, int transB, int64_t M, int64_t N,
                    int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc) {
    struct fr_gemm_blocking bk;
    fr_gemm_blocking_get(kr->isa, &bk, NULL);
    struct gemm_job g = {.kr = kr,
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
                         .lda = lda,
                         .ldb = ldb,
                         .ldc = ldc,
                         .C = C};
    int nt = fr_gemm_units(M, N, K, kr->mr, kr->nr, 4e6, &g.split_m, &g.unit, &g.nunits);
    atomic_init(&g.next, 0);
    fr_parallel_for(nt, 1, gemm_thread, &g);
}

void fr_gemm_scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

/* Items per chunk so that a chunk carries at least ~1 MFLOP of work. */
static int64_t grain_for(double flops_per_item) {
    double g = 1.0e6 / (flops_per_item > 1 ? flops_per_item : 1);
    return g < 1 ? 1 : (int64_t)g;
}

/* ---- small M ---- */

struct small_job {
    const struct fr_gemm_kernel *kr;
    int64_t M, K;
    float alpha, beta;
    const float *A, *B; /* A: M x K contiguous rows (dot) or packed panel (in place B) */
    int64_t lda, ldb, ldc;
    float *C;
    int64_t N;
    float *tail; /* K x nr scratch for the partial last panel (in place B) */
};

/* dot path: columns [j0, j1) */
static void dot_task(void *vp, int64_t j0, int64_t j1, int tid) {
    (void)tid;
    const struct small_job *s = vp;
    s->kr->dot(s->M, j1 - j0, s->K, s->alpha, s->A, s->lda, s->B + j0 * s->ldb, s->ldb, s->beta,
               s->C + j0, s->ldc);
}

/* in-place B path: nr-column panels [p0, p1); the last, partial panel goes
 * through the zero-padded copy `tail` so B loads stay in bounds (only one
 * chunk holds it) */
static void inplace_task(void *vp, int64_t p0, int64_t p1, int tid) {
    (void)tid;
    const struct small_job *s = vp;
    const struct fr_gemm_kernel *kr = s->kr;
    int nr = kr->nr;
    for (int64_t p = p0; p < p1; p++) {
        int64_t j = p * nr, nn = s->N - j < nr ? s->N - j : nr;
        const float *b = s->B + j;
        int64_t ldb = s->ldb;
        if (nn < nr) {
            pack_b(0, s->B, s->ldb, 0, s->K, j, nn, nr, s->tail);
            b = s->tail;
            ldb = nr;
        }
        for (int64_t ir = 0; ir < s->M; ir += kr->mr) { /* the strip stays in L2 */
            int64_t m = s->M - ir < kr->mr ? s->M - ir : kr->mr;
            kr->ukr[m](s->K, s->A + ir * s->K, b, ldb, s->C + ir * s->ldc + j, s->ldc, s->alpha,
                       s->beta, nn);
        }
    }
}

static int small_m(const struct fr_gemm_kernel *kr, int transA, int transB, int64_t M, int64_t N,
                   int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc) {
    struct small_job s = {.kr = kr,
                          .M = M,
                          .K = K,
                          .alpha = alpha,
                          .beta = beta,
                          .B = B,
                          .ldb = ldb,
                          .ldc = ldc,
                          .C = C,
                          .N = N};
    if (transB && kr->dot && M <= 8) {
        float *ac = NULL;
        if (transA) { /* the dot kernel wants A rows contiguous in k */
            ac = thread_buffer((size_t)(M * K));
            if (!ac) return -1;
            for (int64_t i = 0; i < M; i++)
                for (int64_t k = 0; k < K; k++)
                    ac[i * K + k] = A[k * lda + i];
        }
        s.A = ac ? ac : A;
        s.lda = ac ? K : lda;
        fr_parallel_for(N, grain_for(2.0 * M * K), dot_task, &s);
        return 0;
    }
    /* B read in place: each K x nr strip is used by ceil(M/mr) A panels,
     * from L2 after the first, so only while the strip fits there */
    if (!transB &&
        (M <= kr->mr || (M <= 16 && K * kr->nr * (int64_t)sizeof(float) <= (512 << 10)))) {
        int64_t alen = round_up(round_up(M, kr->mr) * K, 16);
        float *ap = thread_buffer((size_t)(alen + round_up(K * kr->nr, 16)));
        if (!ap) return -1;
        pack_a(transA, A, lda, 0, M, 0, K, kr->mr, ap);
        s.A = ap;
        s.tail = ap + alen;
        int64_t np = (N + kr->nr - 1) / kr->nr;
        fr_parallel_for(np, grain_for(2.0 * M * K * kr->nr), inplace_task, &s);
        return 0;
    }
    return 1; /* not a small-M shape */
}

void fr_gemm_isa(enum fr_isa isa, int transA, int transB, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        fr_gemm_scale_c(M, N, beta, C, ldc);
        return;
    }
    const struct fr_gemm_kernel *kr = kernel_for(isa);
    int r = small_m(kr, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (r > 0)
        blocked(kr, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else if (r < 0) /* out of memory for the small-M buffers: the unblocked loops need none */
        fr_gemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- bf16 precision ---- */

static atomic_int g_prec = FR_GEMM_F32;

int fr_gemm_precision_set(enum fr_gemm_precision p) {
    if (p != FR_GEMM_F32 && p != FR_GEMM_BF16)
        return fr_error(FR_EINVAL, "unknown GEMM precision %d", (int)p);
#ifndef FR_BF16_KERNELS
    if (p == FR_GEMM_BF16)
        return fr_error(FR_EINVAL, "bf16 precision: this build has no AMX/AVX512-BF16 kernels "
                                   "(the compiler lacked -mamx-bf16)");
#endif
    if (p == FR_GEMM_BF16 && fr_cpu_bf16() == FR_BF16_NONE)
        return fr_error(
            FR_EINVAL,
            "bf16 precision needs AMX-BF16 or AVX512-BF16; this CPU (%s) "
            "has neither%s",
            fr_cpu_model(),
            fr_cpu_bf16_hw() != FR_BF16_NONE ? " enabled (FRUGAL_ISA/FRUGAL_BF16 cap it)" : "");
    atomic_store(&g_prec, (int)p);
    return 0;
}

enum fr_gemm_precision fr_gemm_precision_get(void) {
    return (enum fr_gemm_precision)atomic_load_explicit(&g_prec, memory_order_relaxed);
}

uint16_t fr_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u); /* zero, subnormal */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static double bf16_value(float x) {
    uint32_t u = (uint32_t)fr_bf16_round(x) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void fr_gemm_bf16_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += bf16_value(transA ? A[k * lda + i] : A[i * lda + k]) *
                     bf16_value(transB ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]));
        }
}

void fr_gemm_bf16w_ref(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                       const uint16_t *W, int64_t ldw, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                uint32_t u = (uint32_t)W[j * ldw + k] << 16;
                float w;
                memcpy(&w, &u, sizeof w);
                s += bf16_value(A[i * lda + k]) * w;
            }
            C[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]));
        }
}

int fr_gemm_bf16w(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const uint16_t *W, int64_t ldw, float beta, float *C, int64_t ldc) {
    enum fr_bf16_hw hw = fr_cpu_bf16();
#ifndef FR_BF16_KERNELS
    hw = FR_BF16_NONE;
#endif
    if (hw == FR_BF16_NONE)
        return fr_error(FR_EINVAL, "bf16 GEMM on bf16 weights needs AMX-BF16 or AVX512-BF16 (this "
                                   "CPU or build has neither)");
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0 || alpha == 0.0f) {
        fr_gemm_scale_c(M, N, beta, C, ldc);
        return 0;
    }
    fr_gemm_bf16w_run(hw, M, N, K, alpha, A, lda, W, ldw, beta, C, ldc);
    return 0;
}

#ifndef FR_BF16_KERNELS
/* a build without the bf16 kernels: fr_gemm_precision_set refuses bf16,
 * so only a test that forces a path comes here */
void fr_gemm_bf16_run(enum fr_bf16_hw hw, int transA, int transB, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float beta, float *C, int64_t ldc) {
    (void)hw;
    fr_gemm_bf16_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void fr_gemm_bf16w_run(enum fr_bf16_hw hw, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const uint16_t *W, int64_t ldw, float beta,
                       float *C, int64_t ldc) {
    (void)hw;
    fr_gemm_bf16w_ref(M, N, K, alpha, A, lda, W, ldw, beta, C, ldc);
}
#endif

void fr_gemm_bf16_blocking(struct fr_gemm_blocking *b) {
    const struct fr_cpu_caches *c = fr_cpu_caches();
    int64_t l1 = c && c->l1d > 0 ? c->l1d : 32 << 10;
    int64_t l2 = c && c->l2 > 0 ? c->l2 / (c->l2_shared > 1 ? c->l2_shared : 1) : 512 << 10;
    int64_t kc = clamp64(l1 / 2 / 64, 128, 1024) / 32 * 32;
    b->kc = (int)kc;
    b->nc = (int)(clamp64(l2 / 2 / (kc * 2), 128, 8192) / 32 * 32);
    b->mc = (int)(clamp64(l2 / 4 / (kc * 2), 64, 2048) / 32 * 32);
}

void fr_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
#ifdef FR_BF16_KERNELS
    if (atomic_load_explicit(&g_prec, memory_order_relaxed) == FR_GEMM_BF16) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0 || alpha == 0.0f) {
            fr_gemm_scale_c(M, N, beta, C, ldc);
            return;
        }
        fr_gemm_bf16_run(fr_cpu_bf16(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C,
                         ldc);
        return;
    }
#endif
#ifdef FR_USE_OPENBLAS
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
                (int)ldb, beta, C, (int)ldc);
#else
    fr_gemm_isa(fr_cpu_isa(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
