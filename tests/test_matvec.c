/* test_matvec.c: the decode-time matvec kernels (f32/f16/bf16 weights; the
 * plain, AVX2 and AVX-512 paths, incl. the AVX-512 4xN batched kernel with
 * its prefetch and left-over rows of x, and the 16-row short-row kernel)
 * against the double-accumulating reference, on odd shapes, every batch
 * size 1..13, strided x and y, sub-ranges of rows, the threaded driver and
 * the multi-matrix one;
 * and the vecmat kernels (y = a W) of every ISA against theirs. */
#include "check.h"
#include "frugal/kernels.h"

#include <stdlib.h>
#include <string.h>

#include "../src/kernels/matvec.h"

int main(void) {
    fr_threads_set(2);
    struct fr_rng r;
    fr_rng_seed(&r, 11);
    /* rows x cols: tiny, odd, short rows (<= 128: the 16-row kernel; 48 is
     * a head size), and enough 4-row blocks that the prefetch runs ahead */
    int64_t shapes[][2] = {{1, 1},    {5, 7},    {8, 16},   {13, 33},  {37, 288},
                           {64, 65},  {9, 768},  {16, 48},  {37, 48},  {50, 13},
                           {33, 100}, {64, 128}, {19, 129}, {70, 288}, {45, 1000}};
    enum { NB = 13 };
    int dts[3] = {FR_F32, FR_F16, FR_BF16};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t R = shapes[si][0], C = shapes[si][1], ldx = C + 3, ldy = R + 2;
        float *wf = malloc(sizeof(float) * R * C);
        uint16_t *wh = malloc(2 * R * C);
        float *x = malloc(sizeof(float) * NB * ldx);
        size_t ny = (size_t)(NB * ldy > C + 1 ? NB * ldy : C + 1); /* matvec / vecmat outputs */
        float *y = malloc(sizeof(float) * ny), *yr = malloc(sizeof(float) * ny);
        fr_rng_fill_normal(&r, wf, R * C, 0, 1);
        fr_rng_fill_normal(&r, x, NB * ldx, 0, 1);
        for (int d = 0; d < 3; d++) {
            const void *W = wf;
            if (dts[d] != FR_F32) {
                for (int64_t i = 0; i < R * C; i++)
                    wh[i] = dts[d] == FR_F16 ? fr_f32_to_f16(wf[i]) : fr_f32_to_bf16(wf[i]);
                W = wh;
            }
            for (int isa = 0; isa <= (int)fr_cpu_isa(); isa++) {
                fr_matvec_fn fn = fr_matvec_kernel_isa(dts[d], isa);
                for (int B = 1; B <= NB; B++) {
                    /* all rows, then a sub-range that starts off a block */
                    int64_t lo = B % 2 && R > 3 ? 3 : 0;
                    for (int i = 0; i < NB * ldy; i++)
                        y[i] = yr[i] = -7.0f; /* padding sentinel */
                    fn(W, C, x, ldx, B, y, ldy, lo, R);
                    fr_matvec_ref(dts[d], W, C, x, ldx, B, yr, ldy, lo, R);
                    double worst = 0;
                    int pad_ok = 1;
                    for (int b = 0; b < NB; b++)
                        for (int64_t j = 0; j < ldy; j++) {
                            float a = y[b * ldy + j], e = yr[b * ldy + j];
                            if (b >= B || j >= R || j < lo) {
                                if (a != -7.0f) pad_ok = 0;
                                continue;
                            }
                            worst =
                                fmax(worst, fabs(a - e) / (1e-5 * (1 + fabs(e)) * sqrt((double)C)));
                        }
                    CHECK(worst <= 1 && pad_ok,
                          "matvec %s isa %d dtype %d R%lld C%lld B%d: ratio %.3g pad %d", "kernel",
                          isa, dts[d], (long long)R, (long long)C, B, worst, pad_ok);
                }
            }
            /* the threaded driver equals the kernel */
            memset(y, 0, sizeof(float) * NB * ldy);
            fr_matvec(dts[d], W, R, C, x, ldx, NB, y, ldy);
            fr_matvec_ref(dts[d], W, C, x, ldx, NB, yr, ldy, 0, R);
            double worst = 0;
            for (int b = 0; b < NB; b++)
                for (int64_t j = 0; j < R; j++)
                    worst = fmax(worst, fabs(y[b * ldy + j] - yr[b * ldy + j]) /
                                            (1e-5 * (1 + fabs(yr[b * ldy + j])) * sqrt((double)C)));
            CHECK(worst <= 1, "fr_matvec threaded, dtype %d: ratio %.3g", dts[d], worst);
        }
        /* vecmat over the first 0..R rows of W (the cached keys so far) */
        int64_t nrows[3] = {0, R / 2 + 1, R};
        for (int ni = 0; ni < 3; ni++)
            for (int isa = 0; isa <= (int)fr_cpu_isa(); isa++) {
                int64_t n = nrows[ni] > R ? R : nrows[ni];
                for (int64_t i = 0; i < C + 1; i++)
                    y[i] = yr[i] = -7.0f;
                fr_vecmat_kernel_isa(isa)(wf, n, C, x, y);
                fr_vecmat_ref(wf, n, C, x, yr);
                double worst = 0;
                for (int64_t i = 0; i < C; i++)
                    worst = fmax(worst, fabs(y[i] - yr[i]) /
                                            (1e-5 * (1 + fabs(yr[i])) * sqrt((double)n + 1)));
                CHECK(worst <= 1 && y[C] == -7.0f, "vecmat isa %d R%lld C%lld: ratio %.3g", isa,
                      (long long)n, (long long)C, worst);
            }
        free(wf);
        free(wh);
        free(x);
        free(y);
        free(yr);
    }
    /* fr_matvec_multi: three parts of different dtypes and row counts,
     * threaded over their rows together, equal the reference per part */
    {
        int64_t C = 100, rows[3] = {37, 5, 64}, tot = 106;
        float *wf = malloc(sizeof(float) * tot * C), *x = malloc(sizeof(float) * 8 * C);
        uint16_t *wh = malloc(2 * tot * C);
        float *y = malloc(sizeof(float) * 8 * tot), *yr = malloc(sizeof(float) * 8 * tot);
        fr_rng_fill_normal(&r, wf, tot * C, 0, 1);
        fr_rng_fill_normal(&r, x, 8 * C, 0, 1);
        for (int64_t i = 0; i < tot * C; i++)
            wh[i] = fr_f32_to_bf16(wf[i]);
        const void *Ws[3] = {wf, wh + rows[0] * C, wf + (rows[0] + rows[1]) * C};
        int pdt[3] = {FR_F32, FR_BF16, FR_F32};
        for (int B = 1; B <= 8; B += 7) {
            struct fr_matvec_part parts[3];
            int64_t off = 0;
            for (int p = 0; p < 3; p++) {
                parts[p] = (struct fr_matvec_part){pdt[p], Ws[p], rows[p], y + off * 8, rows[p]};
                fr_matvec_ref(pdt[p], Ws[p], C, x, C, B, yr + off * 8, rows[p], 0, rows[p]);
                off += rows[p];
            }
            fr_matvec_multi(3, parts, C, x, C, B);
            double worst = 0;
            off = 0;
            for (int p = 0; p < 3; p++) {
                for (int64_t i = 0; i < B * rows[p]; i++)
                    worst = fmax(worst, fabs(y[off * 8 + i] - yr[off * 8 + i]) /
                                            (1e-5 * (1 + fabs(yr[off * 8 + i])) * sqrt((double)C)));
                off += rows[p];
            }
            CHECK(worst <= 1, "fr_matvec_multi B%d: ratio %.3g", B, worst);
        }
        free(wf);
        free(x);
        free(wh);
        free(y);
        free(yr);
    }
    return check_report("test_matvec");
}
