/* matvec_tmpl.h: the body of one SIMD matvec kernel, included by
 * matvec_avx512.c and matvec_avx2.c with these macros defined:
 *   VF, VW (vector type, lanes), VZERO(), VLOADX(p), VFMA(a,b,c), VHSUM(v),
 *   LOADW(p) (loads VW weights of the current dtype as floats),
 *   WT (weight element type), NAME (function name).
 * Rows of x are handled 4 at a time (4 accumulators x 2 unrolled vectors),
 * then a scalar tail for cols % VW.
 * With VSET1(s) (broadcast) and NAME_T also defined, it also emits NAME_T,
 * the f32 vecmat kernel (matvec.h): columns in blocks of up to 4 vectors
 * held in registers over all rows, two rows per step into two accumulator
 * sets, so 2-8 independent FMA chains; a scalar tail for cols % VW.
 */
#ifndef NAME_LINKAGE
#define NAME_LINKAGE
#endif
#define MV_BLOCK(NB)                                                                               \
    {                                                                                              \
        VF a0[NB], a1[NB];                                                                         \
        for (int q = 0; q < NB; q++)                                                               \
            a0[q] = VZERO(), a1[q] = VZERO();                                                      \
        int64_t i = 0;                                                                             \
        for (; i + 2 * VW <= cols; i += 2 * VW) {                                                  \
            VF w0 = LOADW(w + i), w1 = LOADW(w + i + VW);                                          \
            for (int q = 0; q < NB; q++) {                                                         \
                a0[q] = VFMA(w0, VLOADX(xb + q * ldx + i), a0[q]);                                 \
                a1[q] = VFMA(w1, VLOADX(xb + q * ldx + i + VW), a1[q]);                            \
            }                                                                                      \
        }                                                                                          \
        for (; i + VW <= cols; i += VW) {                                                          \
            VF w0 = LOADW(w + i);                                                                  \
            for (int q = 0; q < NB; q++)                                                           \
                a0[q] = VFMA(w0, VLOADX(xb + q * ldx + i), a0[q]);                                 \
        }                                                                                          \
        for (int q = 0; q < NB; q++) {                                                             \
            float s = VHSUM(VADD(a0[q], a1[q]));                                                   \
            for (int64_t j = i; j < cols; j++)                                                     \
                s += SCALARW(w[j]) * xb[q * ldx + j];                                              \
            y[(b + q) * ldy + r] = s;                                                              \
        }                                                                                          \
    }

NAME_LINKAGE void NAME(const void *W, int64_t cols, const float *x, int64_t ldx, int B, float *y,
                       int64_t ldy, int64_t r0, int64_t r1) {
    const WT *Wt = (const WT *)W;
    for (int64_t r = r0; r < r1; r++) {
        const WT *w = Wt + r * cols;
        int b = 0;
        for (; b + 4 <= B; b += 4) {
            const float *xb = x + (int64_t)b * ldx;
            MV_BLOCK(4)
        }
        const float *xb = x + (int64_t)b * ldx;
        switch (B - b) {
        case 3:
            MV_BLOCK(3) break;
        case 2:
            MV_BLOCK(2) break;
        case 1:
            MV_BLOCK(1) break;
        default:
            break;
        }
    }
}
#undef MV_BLOCK

#ifdef NAME_T
#define VM_BLOCK(NV)                                                                               \
    {                                                                                              \
        VF e[NV], o[NV];                                                                           \
        for (int j = 0; j < NV; j++)                                                               \
            e[j] = VZERO(), o[j] = VZERO();                                                        \
        int64_t r = 0;                                                                             \
        for (; r + 2 <= rows; r += 2) {                                                            \
            VF a0 = VSET1(a[r]), a1 = VSET1(a[r + 1]);                                             \
            const float *w0 = W + r * cols + c, *w1 = w0 + cols;                                   \
            for (int j = 0; j < NV; j++) {                                                         \
                e[j] = VFMA(a0, VLOADX(w0 + j * VW), e[j]);                                        \
                o[j] = VFMA(a1, VLOADX(w1 + j * VW), o[j]);                                        \
            }                                                                                      \
        }                                                                                          \
        if (r < rows) {                                                                            \
            VF a0 = VSET1(a[r]);                                                                   \
            for (int j = 0; j < NV; j++)                                                           \
                e[j] = VFMA(a0, VLOADX(W + r * cols + c + j * VW), e[j]);                          \
        }                                                                                          \
        for (int j = 0; j < NV; j++)                                                               \
            VSTORE(y + c + j * VW, VADD(e[j], o[j]));                                              \
        c += NV * VW;                                                                              \
    }

void NAME_T(const float *W, int64_t rows, int64_t cols, const float *a, float *y) {
    int64_t c = 0;
    while (c + 4 * VW <= cols)
        VM_BLOCK(4)
    switch ((cols - c) / VW) {
    case 3:
        VM_BLOCK(3) break;
    case 2:
        VM_BLOCK(2) break;
    case 1:
        VM_BLOCK(1) break;
    default:
        break;
    }
    for (; c < cols; c++) {
        float s = 0;
        for (int64_t r = 0; r < rows; r++)
            s += a[r] * W[r * cols + c];
        y[c] = s;
    }
}
#undef VM_BLOCK
#endif
