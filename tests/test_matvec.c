/* test_matvec.c: the decode-time matvec kernels (f32/f16/bf16 weights; the
 * plain, AVX2 and AVX-512 paths, incl. the AVX-512 4x4 batched kernel)
 * against the double-accumulating reference, on odd shapes, every batch
 * size 1..9, strided x and y, and the threaded driver. */
#include "check.h"
#include "frugal/kernels.h"

#include <stdlib.h>
#include <string.h>

#include "../src/kernels/matvec.h"

int main(void) {
    fr_threads_set(2);
    struct fr_rng r;
    fr_rng_seed(&r, 11);
    int64_t shapes[][2] = {{1, 1}, {5, 7}, {8, 16}, {13, 33}, {37, 288}, {64, 65}, {9, 768}};
    int dts[3] = {FR_F32, FR_F16, FR_BF16};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t R = shapes[si][0], C = shapes[si][1], ldx = C + 3, ldy = R + 2;
        float *wf = malloc(sizeof(float) * R * C);
        uint16_t *wh = malloc(2 * R * C);
        float *x = malloc(sizeof(float) * 9 * ldx);
        float *y = malloc(sizeof(float) * 9 * ldy), *yr = malloc(sizeof(float) * 9 * ldy);
        fr_rng_fill_normal(&r, wf, R * C, 0, 1);
        fr_rng_fill_normal(&r, x, 9 * ldx, 0, 1);
        for (int d = 0; d < 3; d++) {
            const void *W = wf;
            if (dts[d] != FR_F32) {
                for (int64_t i = 0; i < R * C; i++)
                    wh[i] = dts[d] == FR_F16 ? fr_f32_to_f16(wf[i]) : fr_f32_to_bf16(wf[i]);
                W = wh;
            }
            for (int isa = 0; isa <= (int)fr_cpu_isa(); isa++) {
                fr_matvec_fn fn = fr_matvec_kernel_isa(dts[d], isa);
                for (int B = 1; B <= 9; B++) {
                    for (int i = 0; i < 9 * ldy; i++) y[i] = yr[i] = -7.0f; /* padding sentinel */
                    fn(W, C, x, ldx, B, y, ldy, 0, R);
                    fr_matvec_ref(dts[d], W, C, x, ldx, B, yr, ldy, 0, R);
                    double worst = 0;
                    int pad_ok = 1;
                    for (int b = 0; b < 9; b++)
                        for (int64_t j = 0; j < ldy; j++) {
                            float a = y[b * ldy + j], e = yr[b * ldy + j];
                            if (b >= B || j >= R) {
                                if (a != -7.0f) pad_ok = 0;
                                continue;
                            }
                            worst = fmax(worst, fabs(a - e) / (1e-5 * (1 + fabs(e)) * sqrt((double)C)));
                        }
                    CHECK(worst <= 1 && pad_ok, "matvec %s isa %d dtype %d R%lld C%lld B%d: ratio %.3g pad %d",
                          "kernel", isa, dts[d], (long long)R, (long long)C, B, worst, pad_ok);
                }
            }
            /* the threaded driver equals the kernel */
            memset(y, 0, sizeof(float) * 9 * ldy);
            fr_matvec(dts[d], W, R, C, x, ldx, 9, y, ldy);
            fr_matvec_ref(dts[d], W, C, x, ldx, 9, yr, ldy, 0, R);
            double worst = 0;
            for (int b = 0; b < 9; b++)
                for (int64_t j = 0; j < R; j++)
                    worst = fmax(worst, fabs(y[b * ldy + j] - yr[b * ldy + j]) /
                                            (1e-5 * (1 + fabs(yr[b * ldy + j])) * sqrt((double)C)));
            CHECK(worst <= 1, "fr_matvec threaded, dtype %d: ratio %.3g", dts[d], worst);
        }
        free(wf);
        free(wh);
        free(x);
        free(y);
        free(yr);
    }
    return check_report("test_matvec");
}
