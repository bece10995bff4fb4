/* matvec_avx512.c: AVX-512 matvec kernels (see matvec.h, matvec_tmpl.h). */
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

#define WT float
#define LOADW(p) _mm512_loadu_ps(p)
#define SCALARW(v) (v)
#define NAME fr_matvec_avx512_f32
#include "matvec_tmpl.h"
#undef WT
#undef LOADW
#undef SCALARW
#undef NAME

#define WT uint16_t
#define LOADW(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define SCALARW(v) fr_f16_to_f32(v)
#define NAME fr_matvec_avx512_f16
#include "matvec_tmpl.h"
#undef LOADW
#undef SCALARW
#undef NAME

#define LOADW(p)                                                                                   \
    _mm512_castsi512_ps(                                                                           \
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define SCALARW(v) fr_bf16_to_f32(v)
#define NAME fr_matvec_avx512_bf16
#include "matvec_tmpl.h"
